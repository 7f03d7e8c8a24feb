"""Fixtures shared by the scorecard tests."""

from __future__ import annotations

import pytest
import torch

from imgleak.images import bundled_photos
from imgleak.scorecard.base import BUDGETS, Context


@pytest.fixture(scope="module")
def photos() -> Context:
    """Four bundled photographs, centre crops of the quick budget's size (4 x 3 x 32 x 32), seed 0."""
    size = BUDGETS["quick"].size
    crops = []
    for photo in bundled_photos(["astronaut", "coffee", "chelsea", "rocket"]):
        h, w = photo.size
        crops.append(photo.image[:, (h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2])
    return Context(torch.stack(crops), seed=0, budget=BUDGETS["quick"])


@pytest.fixture
def refuses_a_wrong_cell():
    """A check that ``criterion`` refuses a wrong subject and a wrong context with the named ``TypeError``
    every criterion gives (:func:`imgleak.scorecard.base.check_cell`)."""
    from imgleak import ciphers
    from imgleak.scorecard.base import Subject

    def check(criterion) -> None:
        with pytest.raises(TypeError, match="^context must be an imgleak.scorecard Context, got str$"):
            criterion(Subject("identity", ciphers.get("identity")), "context")
        with pytest.raises(TypeError, match="^subject must be an imgleak.scorecard Subject, got NoneType$"):
            criterion(None, None)

    return check
