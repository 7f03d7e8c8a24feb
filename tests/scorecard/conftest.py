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
