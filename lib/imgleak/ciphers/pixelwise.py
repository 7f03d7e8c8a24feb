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
the whole batch with one XOR and one scatter (decryption: one gather) on the images' device,
through a flat index over whole images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import torch

from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank
from .base import CipherBase, check_first_index, check_key
from .keyspace import check_shape, pixelwise_log2

MODES = ("same", "different")
_SUBKEY = "pixelwise"
INDEX_CHUNK = 1 << 20
"""In ``"different"`` mode images are encrypted about this many pixel values at a time, so that
their flat int64 index (8 bytes a value) stays small (8 MiB) instead of 8 times the batch."""


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a ``ValueError`` naming the accepted values.

    >>> check_mode("same")
    'same'
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'same' (one key for all images) or 'different' (a key per image), got {mode!r}")
    return mode  # type: ignore[return-value]


def image_keys(key: Key, prefix: str, mode: str, n_images: int, first_index: int) -> list[Key] | Key:
    """The per-image sub-keys ``prefix/image-i`` (``mode="different"``) or the one key ``prefix``.

    >>> key = Key.from_seed(0)
    >>> image_keys(key, "p", "different", 2, first_index=5) == [key.derive("p/image-5"), key.derive("p/image-6")]
    True
    >>> image_keys(key, "p", "same", 2, first_index=5) == key.derive("p")
    True
    """
    check_key(key)
    check_mode(mode)
    first_index = check_first_index(first_index)
    if mode == "same":
        return key.derive(prefix)
    return [key.derive(f"{prefix}/image-{i}") for i in range(first_index, first_index + n_images)]


def in_chunks(apply: Callable[[torch.Tensor, int, torch.Tensor], None], batch: torch.Tensor, mode: str) -> torch.Tensor:
    """A new tensor like ``batch``, filled by ``apply(images, offset, out)`` for slices of the batch.

    ``images = batch[offset:offset + k]`` and ``out`` is the matching slice of the result: the
    whole batch at once in ``"same"`` mode, :data:`INDEX_CHUNK` values at a time in ``"different"``
    mode (at least one image).

    >>> def double(images, offset, out):
    ...     out.copy_(images * 2)
    >>> in_chunks(double, torch.ones(3, 1, 2, 2, dtype=torch.uint8), "different").unique().tolist()
    [2]
    """
    n = batch.shape[0]
    out = torch.empty(batch.shape, dtype=batch.dtype, device=batch.device)
    step = max(1, INDEX_CHUNK // max(1, math.prod(batch.shape[1:]))) if mode == "different" else max(1, n)
    for start in range(0, n, step):
        apply(batch[start:start + step], start, out[start:start + step])
    return out


def random_orders(generator: torch.Generator, count: int, channels: int) -> torch.Tensor:
    """``count`` uniform random permutations of ``channels`` items (int64 ``(count, channels)``).

    >>> random_orders(torch.Generator().manual_seed(0), 2, 3).sort(dim=1).values.tolist()
    [[0, 1, 2], [0, 1, 2]]
    """
    return torch.rand(count, channels, generator=generator).argsort(dim=1)


def channel_ranks(draws: torch.Tensor) -> torch.Tensor:
    """Where each channel goes under the orders ``draws.argsort(dim=-1)``, by pairwise comparisons.

    ``draws`` is ``(N, P, C)`` (the values :func:`random_orders` sorts); the result is
    ``(N, C, P)`` with ``rank[:, s, p] = order[:, p].argsort()[s]``: channel ``s`` of pixel ``p`` is
    output channel ``rank[:, s, p]``. Ties go to the lower channel first, as in torch's (stable)
    CPU sort. uint8 for up to 256 channels; ``C (C - 1) / 2`` comparisons, far faster than sorting
    millions of rows of three.

    >>> channel_ranks(torch.tensor([[[0.3, 0.1, 0.2]]])).flatten().tolist()  # order [1, 2, 0]
    [2, 0, 1]
    """
    n, p, c = draws.shape
    rank = torch.zeros(n, c, p, dtype=torch.uint8 if c <= 256 else torch.int64)
    for i in range(c):
        for j in range(i + 1, c):
            first = draws[..., i] <= draws[..., j]
            rank[:, j] += first
            rank[:, i] += ~first
    return rank


@dataclass(frozen=True)
class PixelKey:
    """Key material for a batch (CPU): ``flip`` uint8 ``(N, C, H, W)`` in {0, 255} and ``rank``
    ``(N, C, H, W)`` (uint8 up to 256 channels): channel ``s`` of a pixel becomes output channel
    ``rank[:, s]`` (the inverse of the order in which output channel ``c`` takes channel
    ``order[c]``). In ``"same"`` mode N = 1 (broadcast over the batch)."""

    flip: torch.Tensor
    rank: torch.Tensor


@dataclass(frozen=True)
class PixelwiseEncryption(CipherBase):
    """Negative–positive transform and colour-channel shuffle per pixel; same or per-image keys.

    >>> cipher = PixelwiseEncryption("different")  # a key per image
    >>> x = torch.arange(48, dtype=torch.uint8).view(1, 3, 4, 4).repeat(2, 1, 1, 1)  # two equal images
    >>> key = cipher.make_key(0, (3, 4, 4))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(y[0], y[1])
    (True, False)
    >>> torch.equal(cipher.encrypt(x[1:], key, first_index=1), y[1:])  # a chunk agrees with the batch
    True
    >>> folded = lambda t: torch.minimum(t, 255 - t).sort(dim=1).values  # each pixel: flips and a shuffle only
    >>> torch.equal(folded(y), folded(x))
    True
    >>> round(cipher.key_space_log2((3, 4, 4)), 2)  # 16 pixels x (3 + log2 6) bits
    89.36
    """

    mode: str = "same"
    name: ClassVar[str] = "pixelwise"
    invertible: ClassVar[bool] = True
    attack_networks: ClassVar[Mapping[str, str]] = MappingProxyType({"itn": "locally_connected", "gan": "conv1x1"})

    def __post_init__(self) -> None:
        check_mode(self.mode)

    @property
    def per_image_keys(self) -> bool:  # type: ignore[override]
        """True in ``"different"`` mode."""
        return self.mode == "different"

    def describe(self) -> str:
        """``"pixel-wise encryption, same key"`` or ``"..., different keys"``."""
        return f"pixel-wise encryption, {'same key' if self.mode == 'same' else 'different keys'}"

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of keys for images of ``shape``: ``n · (C + log2 C!)`` per image, n = H · W.

        For RGB this is ``3n + n · log2 6`` (the paper's N_Pix). In ``"different"`` mode every
        image of a batch ``(N, C, H, W)`` has its own key, so a batch counts N of them; all keys
        are bounded by the 256-bit master key.
        """
        shape = check_shape(shape)
        c, h, w = shape[-3:]
        images = shape[0] if self.per_image_keys and len(shape) == 4 else 1
        return images * pixelwise_log2(h * w, c)

    def key_material(self, key: Key, shape: Sequence[int], first_index: int = 0) -> PixelKey:
        """The flips and channel ranks for a batch of ``shape`` ``(N, C, H, W)``."""
        n, c, h, w = (int(s) for s in shape)
        keys = image_keys(key, _SUBKEY, self.mode, n, first_index)
        keys = keys if isinstance(keys, list) else [keys]
        flip = torch.empty(len(keys), c, h, w, dtype=torch.uint8)
        draws = torch.empty(len(keys), h * w, c)
        for i, one in enumerate(keys):  # each key's draws, in place: flips, then random_orders' values
            generator = torch_generator(one)
            torch.randint(0, 2, (c, h, w), generator=generator, out=flip[i])
            torch.rand(h * w, c, generator=generator, out=draws[i])
        return PixelKey(flip.mul_(255), channel_ranks(draws).view(-1, c, h, w))

    def _apply(self, x: torch.Tensor, key: Key, first_index: int, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        check_key(key)  # also for an empty batch, which draws no key
        first_index = check_first_index(first_index)

        def apply(images: torch.Tensor, offset: int, out: torch.Tensor) -> None:
            n, c, h, w = images.shape
            material = self.key_material(key, images.shape, first_index + offset)
            flip = material.flip.to(images.device)
            # flat index of where each (channel, pixel) goes: rank · H·W + pixel
            pixels = torch.arange(h * w, device=images.device).repeat(c)
            index = material.rank.to(images.device, torch.int64).view(-1, c * h * w).mul_(h * w).add_(pixels)
            if inverse:  # undo the shuffle, then the negative–positive transform
                torch.gather(images.reshape(n, -1), 1, index.expand(n, -1), out=out.view(n, -1))
                out.bitwise_xor_(flip)
            else:
                out.view(n, -1).scatter_(1, index.expand(n, -1), (images ^ flip).reshape(n, -1))

        return restore_rank(in_chunks(apply, batch, self.mode), single)

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``.

        ``first_index`` (``"different"`` mode) is the data-set index of the first image of ``x``.
        """
        return self._apply(x, key, first_index, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key and ``first_index``)."""
        return self._apply(y, key, first_index, inverse=True, name="y")
