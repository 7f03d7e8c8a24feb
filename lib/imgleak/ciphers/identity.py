"""The identity "scheme": no protection at all, the control every leakage criterion starts from.

>>> import torch
>>> x = torch.arange(12, dtype=torch.uint8).view(1, 3, 2, 2)
>>> bool(torch.equal(Identity().encrypt(x, Identity().make_key(0)), x))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..tensors import as_image_batch, restore_rank
from .base import CipherBase, check_first_index
from .keyspace import check_map_request, check_shape


@dataclass(frozen=True)
class Identity(CipherBase):
    """Returns a copy of the images; any key is accepted and ignored; key space 0 bits."""

    name: ClassVar[str] = "identity"
    invertible: ClassVar[bool] = True

    def describe(self) -> str:
        """``"no protection (identity)"``."""
        return "no protection (identity)"

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """0: there is no key."""
        check_shape(shape)
        return 0.0

    def pixel_maps(self, key: Any, shape: Sequence[int], n_images: int = 1, first_index: int = 0) -> torch.Tensor:
        """The identity map ``arange(H*W)`` (the :class:`~imgleak.ciphers.base.PixelMover` view)."""
        shape = check_map_request(shape, n_images, first_index)[0]
        return torch.arange(shape[-2] * shape[-1])

    def encrypt(self, x: torch.Tensor, key: Any = None, *, first_index: int = 0) -> torch.Tensor:
        """A copy of ``x`` (uint8 ``(C, H, W)`` or ``(N, C, H, W)``)."""
        check_first_index(first_index)
        batch, single = as_image_batch(x, "x")
        return restore_rank(batch.clone(), single)

    def decrypt(self, y: torch.Tensor, key: Any = None, *, first_index: int = 0) -> torch.Tensor:
        """A copy of ``y``."""
        return self.encrypt(y, key, first_index=first_index)
