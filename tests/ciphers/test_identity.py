"""The identity scheme: a copy, its pixel map, and the arguments that map refuses."""

from __future__ import annotations

import pytest
import torch

from imgleak import ciphers


def test_pixel_map_is_arange_for_every_shape_form():
    cipher = ciphers.get("identity")
    key = cipher.make_key(0)
    for shape in [(3, 5), (1, 3, 5), (2, 1, 3, 5)]:
        assert torch.equal(cipher.pixel_maps(key, shape), torch.arange(15))


@pytest.mark.parametrize("shape", ["abc", (3,), (1, 2, 3, 4, 5), (3, 0, 4), (2.0, 3), None])
def test_pixel_map_refuses_a_bad_shape_by_name(shape):
    cipher = ciphers.get("identity")
    with pytest.raises(ValueError, match=r"shape must be \(H, W\), \(C, H, W\) or \(N, C, H, W\)"):
        cipher.pixel_maps(cipher.make_key(0), shape)
