"""Where a scorecard's images come from: crops of same-channel sources, and the context of a seed."""

from __future__ import annotations

import pytest
import torch

from imgleak.scorecard.base import BUDGETS
from imgleak.scorecard.sources import ImageSource, cut_crops, make_context

GREY = torch.zeros(1, 40, 40, dtype=torch.uint8)
RGB = torch.full((3, 40, 40), 7, dtype=torch.uint8)


@pytest.mark.parametrize("sources,first,other", [([GREY, RGB], 1, 3), ([RGB, GREY], 3, 1)])
def test_grey_and_rgb_sources_are_refused_in_either_order(sources, first, other):
    with pytest.raises(ValueError, match=f"sources must all have the same number of channels: sources\\[0\\] has "
                                         f"{first}, sources\\[1\\] has {other} \\(convert grey images to RGB first"):
        cut_crops(sources, 4, 8, seed=0)


def test_grey_sources_repeated_to_rgb_by_the_caller_are_cut_as_rgb():
    crops = cut_crops([GREY.expand(3, -1, -1), RGB], 4, 8, seed=0)
    assert crops.shape == (4, 3, 8, 8)
    assert crops[0::2].eq(0).all() and crops[1::2].eq(7).all()  # crop i from source i mod 2


@pytest.mark.parametrize("sources,error,message", [
    ([], ValueError, "sources must hold at least one image"),
    ([RGB.float()], TypeError, r"sources\[0\] must be a uint8 tensor \(C, H, W\), got torch.float32 \(3, 40, 40\)"),
    ([RGB, RGB[0]], TypeError, r"sources\[1\] must be a uint8 tensor \(C, H, W\), got torch.uint8 \(40, 40\)"),
    ([RGB, "photo.png"], TypeError, r"sources\[1\] must be a uint8 tensor \(C, H, W\), got str"),
])
def test_bad_sources_are_named(sources, error, message):
    with pytest.raises(error, match=message):
        cut_crops(sources, 2, 8, seed=0)


def test_make_context_takes_a_budget_name_like_the_budget_itself():
    by_name = make_context(ImageSource(), "quick", 0, device="cpu")
    by_budget = make_context(ImageSource(), BUDGETS["quick"], 0, device="cpu")
    assert by_name.budget is BUDGETS["quick"] and torch.equal(by_name.images, by_budget.images)
    with pytest.raises(ValueError, match=r"budget must be one of \['default', 'paper', 'quick'\] or a Budget, got 'fast'"):
        make_context(ImageSource(), "fast", 0, device="cpu")
    with pytest.raises(TypeError, match="seed must be an int, got float 0.5"):
        make_context(ImageSource(), "quick", 0.5, device="cpu")
