"""Pixel-wise learnable encryption (Sirichotedumrong, Maekawa, Kinoshita & Kiya, ICIP 2019).

For every pixel of a ``C``-channel image (the papers use RGB, C = 3):

1. negative–positive transform per channel: ``p → p XOR 255`` (= 255 − p) where the key bit
   for that pixel and channel is 1 (key K_NP = {K_R, K_G, K_B});
2. colour-channel shuffle: the pixel's channels are put in one of the ``C!`` orders (6 for RGB),
   chosen per pixel by the key K_CS; output channel ``c`` takes shuffled-from channel
   ``order[c]``.

Key space for n = H · W pixels: ``N = 2^{Cn} · (C!)^n`` — for RGB ``3n + n · log2 6`` bits
(5.585 bits per pixel), the paper's Eqs. 2–3.

Two key conditions (the paper's):

``mode="same"``
    one key for all images (``key.derive("pixelwise")``);
``mode="different"``
    an independent key per image: image number ``i`` of the data set (``first_index + `` its
    place in the batch) uses ``key.derive(f"pixelwise/image-{i}")``, so a data set encrypted in
    chunks still gets a distinct key for every image, and decryption with the master key is exact.

Keys are drawn on the CPU (the same key gives the same cipher on every device) and applied to
the whole batch with one XOR and one gather on the images' device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank

MODES = ("same", "different")
_SUBKEY = "pixelwise"


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a ``ValueError`` naming the accepted values."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'same' (one key for all images) or 'different' (a key per image), got {mode!r}")
    return mode  # type: ignore[return-value]


def check_first_index(first_index: object) -> int:
    """``first_index`` if it is a non-negative int, else a ``ValueError``."""
    if isinstance(first_index, bool) or not isinstance(first_index, int) or first_index < 0:
        raise ValueError(f"first_index must be a non-negative int, got {first_index!r}")
    return first_index


def image_keys(key: Key, prefix: str, mode: str, n_images: int, first_index: int) -> list[Key] | Key:
    """The per-image sub-keys ``prefix/image-i`` (``mode="different"``) or the one key ``prefix``."""
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    check_mode(mode)
    first_index = check_first_index(first_index)
    if mode == "same":
        return key.derive(prefix)
    return [key.derive(f"{prefix}/image-{i}") for i in range(first_index, first_index + n_images)]


def random_orders(generator: torch.Generator, count: int, channels: int) -> torch.Tensor:
    """``count`` uniform random permutations of ``channels`` items (int64 ``(count, channels)``)."""
    return torch.rand(count, channels, generator=generator).argsort(dim=1)


@dataclass(frozen=True)
class PixelKey:
    """Key material for a batch (CPU): ``flip`` uint8 ``(N, C, H, W)`` in {0, 255} and
    ``order`` int64 ``(N, C, H, W)``, output channel ``c`` of a pixel takes channel ``order[:, c]``.
    In ``"same"`` mode N = 1 (broadcast over the batch)."""

    flip: torch.Tensor
    order: torch.Tensor


@dataclass(frozen=True)
class PixelwiseEncryption:
    """Negative–positive transform and colour-channel shuffle per pixel; same or per-image keys."""

    mode: str = "same"
    name: ClassVar[str] = "pixelwise"
    invertible: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_mode(self.mode)

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of keys of one image of ``shape``: ``n · (C + log2 C!)``, n = H · W.

        For RGB this is ``3n + n · log2 6`` (the paper's N_Pix). In ``"different"`` mode every
        image has its own key of this size; all keys are bounded by the 256-bit master key.
        """
        c, h, w = (int(s) for s in shape[-3:])
        return h * w * (c + math.lgamma(c + 1) / math.log(2))

    def key_material(self, key: Key, shape: Sequence[int], first_index: int = 0) -> PixelKey:
        """The flips and channel orders for a batch of ``shape`` ``(N, C, H, W)``."""
        n, c, h, w = (int(s) for s in shape)
        keys = image_keys(key, _SUBKEY, self.mode, n, first_index)

        def draw(one: Key) -> tuple[torch.Tensor, torch.Tensor]:
            generator = torch_generator(one)
            flip = torch.randint(0, 2, (c, h, w), generator=generator, dtype=torch.uint8) * 255
            order = random_orders(generator, h * w, c).T.reshape(c, h, w)
            return flip, order

        flips, orders = zip(*(draw(k) for k in (keys if isinstance(keys, list) else [keys])))
        return PixelKey(torch.stack(flips), torch.stack(orders))

    def _apply(self, x: torch.Tensor, key: Key, first_index: int, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        material = self.key_material(key, batch.shape, first_index)
        flip = material.flip.to(batch.device)
        order = material.order.to(batch.device)
        if inverse:
            order = order.argsort(dim=1)
        order = order.expand(batch.shape)
        if inverse:  # undo the shuffle, then the negative–positive transform
            out = batch.gather(1, order) ^ flip
        else:
            out = (batch ^ flip).gather(1, order)
        return restore_rank(out, single)

    def encrypt(self, x: torch.Tensor, key: Key, first_index: int = 0) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``.

        ``first_index`` (``"different"`` mode) is the data-set index of the first image of ``x``.
        """
        return self._apply(x, key, first_index, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key and ``first_index``)."""
        return self._apply(y, key, first_index, inverse=True, name="y")
