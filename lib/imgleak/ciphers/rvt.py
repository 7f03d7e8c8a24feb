"""Random Vortex Transformation (Cao, Mo, Wang, Lai & Huang, arXiv 2411.16207).

Inside a disc, every pixel moves along its own circle about the disc centre by an angle that
depends on the ring radius through a random function and falls to zero at the rim; several
vortices with random centres and radii are applied one after another. Key generation and the
pixel rule follow the authors' MATLAB code (``mnist_fashion_vor.m``, ``cifar_vor.m``,
``Random_Function.m``):

- vortex i = 1..V: centre ``c = round(U(0,1) * (H, W))`` (1-based), radius
  ``r = min(c1, c2, H - c1, W - c2) - 1`` (``r <= 0``: no-op), six weights ``U[-2, 0)``,
  random-function family ``(i mod 5) + 1``, ``swirl[k] = scale * f(k / r) / divisor``;
- in the ``(2r+1)``-square window with midpoint ``r + 0.5``, a pixel at radius
  ``rho <= r`` (ring ``k = round(rho)``) reads the pixel at angle
  ``atan2 + (r - k) * swirl[k - 1]`` on the same radius, both coordinates rounded.

Two ways to apply a key:

``"faithful"``
    the authors' nearest-neighbour gather map. It is not a bijection: some source pixels are
    read twice, others never (:func:`map_statistics`), so there is no decrypt.
``"invertible"``
    our exact variant (not in the paper): the pixels of each ring (same rounded radius about
    the same half-integer centre) are sorted by angle and cyclically shifted by
    ``round(angle * n_ring / 2 pi)`` places, in the same direction as the faithful gather.

Either way a key and image size give one flat gather map of length ``H * W`` (output pixel
``q`` takes source pixel ``map[q]``), computed once per key, size, mode and device and applied to
a whole batch, all channels together, as a single gather on the images' device
(:func:`~imgleak.ciphers.permutation.move_pixels`). :func:`reference_apply` is the authors'
per-pixel loop, to check that map against.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch

from .. import _checks
from ..keys import KEY_BYTES, Key
from ..tensors import as_image_batch, restore_rank
from .._checks import number, positive_int
from .base import CipherBase, NotInvertibleError, check_first_index
from .keyspace import check_map_request, check_shape
from .permutation import move_pixels

MODES = ("invertible", "faithful")
MIN_SIZE = 4  # the smallest side on which a vortex of radius 1 fits
_SUBKEY = "rvt"


@dataclass(frozen=True)
class Strength:
    """Per-dataset constants of the authors' scripts: ``swirl = scale * f / divisor``."""

    scale: float
    divisor: float
    n_vortices: int


PRESETS: dict[str, Strength] = {
    "mnist": Strength(800.0, 1000.0, 10),
    "fashion": Strength(800.0, 1000.0, 10),
    "cifar": Strength(1000.0, 10000.0, 5),
}


def _family_1(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[0] * np.sin(w[1] * x + w[2]) + w[3] * np.cos(w[4] * x + w[5])


def _family_2(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[0] * x + w[1] * x**3 + w[2] * np.exp(2 * x) + w[3] * np.cos(w[4] * x + w[5])


def _family_3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[0] * np.sqrt(x) + w[1] * x**2 + w[2] * np.exp(x) + w[3] * np.sin(w[4] * x + w[5])


def _family_4(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[0] * x**5 + w[1] * np.log(x + 1) + w[2] * np.exp(x) + w[3] * np.cos(w[4] * x + w[5])


def _family_5(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w[0] * 2**x + w[1] * (2 * x) + w[2] * np.log10(x + 1) + w[3] * np.sin(w[4] * x + w[5])


FAMILIES: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    _family_1, _family_2, _family_3, _family_4, _family_5,
)


def _round(values: np.ndarray | float) -> np.ndarray:
    """MATLAB's ``round``: halves away from zero."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


@dataclass(frozen=True)
class Vortex:
    """One vortex: 1-based ``center`` (first, second array index), ``radius`` and ``swirl``.

    ``swirl[k - 1]`` is the angle per unit of ``radius - k`` on ring k (the authors'
    ``degree / divisor``). ``radius <= 0`` makes the vortex a no-op (the authors' keys hold
    such entries, centred on row or column 0). Centres are non-negative ints, swirls finite
    numbers; whether the vortex fits an image is checked when it is applied.
    """

    center: tuple[int, int]
    radius: int
    swirl: tuple[float, ...]

    def __post_init__(self) -> None:
        center = _sequence(self.center, "vortex center")
        if len(center) != 2:
            raise ValueError(f"vortex center must be two non-negative ints (1-based row, column), got {self.center!r}")
        center = tuple(_checks.non_negative_int(c, "vortex center") for c in center)
        swirl = tuple(_checks.number(s, "vortex swirl", allow_negative=True) for s in _sequence(self.swirl, "vortex swirl"))
        if isinstance(self.radius, bool) or not isinstance(self.radius, (int, np.integer)):
            raise TypeError(f"vortex radius must be an int, got {self.radius!r}")
        if self.radius > 0 and len(swirl) < self.radius:
            raise ValueError(f"a vortex of radius {self.radius} needs at least {self.radius} swirl values, got {len(swirl)}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "radius", int(self.radius))
        object.__setattr__(self, "swirl", swirl)


@dataclass(frozen=True)
class VortexKey:
    """An ordered list of vortices, applied one after another.

    ``transposed`` applies the vortices to the transposed image (``center[0]`` indexes
    columns), as the authors' CIFAR-10 script does.

    >>> vortex_key = VortexKey((Vortex((5, 6), 3, (0.1, 0.2, 0.3)), Vortex((1, 1), 0, ())))
    >>> vortex_key.active  # a radius of 0 does nothing
    1
    >>> VortexKey.from_json(vortex_key.to_json()) == vortex_key
    True
    """

    vortices: tuple[Vortex, ...]
    transposed: bool = False

    def __post_init__(self) -> None:
        vortices = _sequence(self.vortices, "vortices")
        strays = [v for v in vortices if not isinstance(v, Vortex)]
        if strays:
            raise TypeError(f"vortices must be Vortex objects, got {type(strays[0]).__name__} {strays[0]!r}")
        object.__setattr__(self, "vortices", vortices)
        object.__setattr__(self, "transposed", _checks.boolean(self.transposed, "transposed"))

    @property
    def active(self) -> int:
        """How many vortices do something (radius > 0)."""
        return sum(v.radius > 0 for v in self.vortices)

    def to_json(self) -> str:
        """The key as JSON text (exact: floats are written with full precision)."""
        return json.dumps({
            "transposed": self.transposed,
            "vortices": [{"center": list(v.center), "radius": v.radius, "swirl": list(v.swirl)} for v in self.vortices],
        })

    @classmethod
    def from_json(cls, text: str) -> "VortexKey":
        """The key written by :meth:`to_json`; every field is checked (``ValueError`` saying which)."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"text must be the JSON text of a VortexKey (a str), got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not a VortexKey JSON text: {err}") from err
        records = data.get("vortices") if isinstance(data, dict) else None
        if not isinstance(records, list) or not all(isinstance(v, dict) for v in records):
            raise ValueError("not a VortexKey JSON text: expected an object whose 'vortices' is a list of "
                             "{'center', 'radius', 'swirl'} objects")
        try:
            vortices = tuple(Vortex(v["center"], v["radius"], v["swirl"]) for v in records)
            return cls(vortices, data.get("transposed", False))
        except KeyError as err:
            raise ValueError(f"not a VortexKey JSON text: a vortex has no {err} field") from None
        except (TypeError, ValueError) as err:
            raise ValueError(f"not a valid VortexKey JSON text: {err}") from err

    @classmethod
    def from_reference(
        cls, entries: Iterable[Mapping[str, Any]], divisor: float, *, n_vortices: int | None = None, transposed: bool = False
    ) -> "VortexKey":
        """A key from the authors' parameter records (``center``, ``r``, ``degree``).

        ``swirl = degree / divisor`` (1000 for MNIST/Fashion-MNIST, 10000 for CIFAR-10); the
        scripts use the first ``n_vortices`` records (10 for MNIST/Fashion) and CIFAR keys on the
        transposed image.
        """
        divisor = _checks.number(divisor, "divisor", positive=True)
        records = list(entries)[:_checks.optional_positive_int(n_vortices, "n_vortices")]
        try:
            vortices = tuple(
                Vortex(e["center"], e["r"], tuple(
                    _checks.number(d, "degree", allow_negative=True) / divisor for d in _sequence(e["degree"], "degree")
                )) for e in records
            )
        except KeyError as err:
            raise ValueError(f"every reference record needs 'center', 'r' and 'degree'; one has no {err}") from None
        return cls(vortices, transposed)


def _sequence(values: Any, name: str) -> tuple[Any, ...]:
    """``values`` as a tuple: a list, tuple or array (not a string, not a mapping)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of numbers, got {type(values).__name__} {values!r}")
    return tuple(values)


def check_strength(strength: float | str) -> Strength:
    """The :class:`Strength` of a preset name (:data:`PRESETS`) or a positive swirl factor s.

    >>> s = check_strength("mnist"); s.scale / s.divisor
    0.8
    """
    if isinstance(strength, str):
        try:
            return PRESETS[strength]
        except KeyError:
            raise ValueError(f"strength must be a positive number or one of {sorted(PRESETS)}, got {strength!r}") from None
    try:
        value = number(strength, "strength", positive=True)
    except ValueError:
        raise ValueError(f"strength must be a positive number or one of {sorted(PRESETS)}, got {strength!r}") from None
    return Strength(1000.0 * value, 1000.0, 10)


def _check_size(shape: Sequence[int]) -> tuple[int, int]:
    """``(H, W)`` of images shaped ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)``, at least :data:`MIN_SIZE` each."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or not 2 <= len(shape) <= 4:
        raise ValueError(f"shape must be (H, W), (C, H, W) or (N, C, H, W), got {shape!r}")
    height, width = (positive_int(s, "shape") for s in tuple(shape)[-2:])
    if min(height, width) < MIN_SIZE:
        raise ValueError(f"RVT needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, got {height}x{width}")
    return height, width


def generate_vortex_key(
    key: Key, shape: Sequence[int], strength: float | str = "mnist", n_vortices: int | None = None
) -> VortexKey:
    """Draw an RVT key for images of ``shape`` (``(..., H, W)``) the way the authors' code does.

    ``strength`` is a preset (``"mnist"``/``"fashion"``: ``800 f / 1000``, 10 vortices;
    ``"cifar"``: ``1000 f / 10000``, 5 vortices) or a number s (``swirl = s * f``, 10 vortices).
    The randomness is a numpy Generator seeded from ``key.derive("rvt")``.

    >>> from imgleak.keys import Key
    >>> vortex_key = generate_vortex_key(Key.from_seed(0), (28, 28))
    >>> len(vortex_key.vortices), len(generate_vortex_key(Key.from_seed(0), (32, 32), "cifar").vortices)
    (10, 5)
    >>> generate_vortex_key(Key.from_seed(0), (28, 28)) == vortex_key  # the same key draws the same vortices
    True
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    height, width = _check_size(shape)
    preset = check_strength(strength)
    count = preset.n_vortices if n_vortices is None else n_vortices
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"n_vortices must be a positive int, got {n_vortices!r}")
    rng = np.random.default_rng(int.from_bytes(key.derive(_SUBKEY).material, "little"))
    vortices = []
    for i in range(1, int(count) + 1):
        c1, c2 = (int(c) for c in _round(rng.random(2) * (height, width)))
        radius = min(c1, c2, height - c1, width - c2) - 1
        if radius <= 0:
            degree = np.ones(1)
        else:
            weights = 2 * rng.random(6) - 2
            degree = preset.scale * FAMILIES[i % 5](np.arange(radius + 1) / radius, weights)
        vortices.append(Vortex((c1, c2), radius, tuple((degree / preset.divisor).tolist())))
    return VortexKey(tuple(vortices))


def _disc(radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Window positions inside the disc (1-based x, y), their offsets from the midpoint and radii."""
    side = 2 * radius + 1
    mid = side / 2
    x, y = np.meshgrid(np.arange(1, side + 1), np.arange(1, side + 1), indexing="ij")
    dx, dy = x - mid, y - mid
    rho = np.sqrt(dx * dx + dy * dy)
    inside = rho <= radius
    return x[inside], y[inside], dx[inside], dy[inside], rho[inside]


def _faithful_window(v: Vortex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The authors' rule: window pixel (x, y) reads (X, Y) (all 1-based)."""
    x, y, dx, dy, rho = _disc(v.radius)
    ring = _round(rho).astype(np.int64)
    angle = np.arctan2(dy, dx) + (v.radius - ring) * np.asarray(v.swirl)[ring - 1]
    mid = (2 * v.radius + 1) / 2
    big_x = _round(rho * np.cos(angle) + mid).astype(np.int64)
    big_y = _round(rho * np.sin(angle) + mid).astype(np.int64)
    return x, y, big_x, big_y


def _invertible_window(v: Vortex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ring-wise cyclic shift: on each ring sorted by angle, place j reads place j + s_k."""
    x, y, dx, dy, rho = _disc(v.radius)
    ring = _round(rho).astype(np.int64)
    order = np.lexsort((rho, np.arctan2(dy, dx), ring))  # by ring, then angle
    x, y, ring = x[order], y[order], ring[order]
    sizes = np.bincount(ring, minlength=v.radius + 1)
    starts = np.cumsum(sizes) - sizes
    angle = (v.radius - np.arange(v.radius + 1)) * np.asarray((0.0, *v.swirl[: v.radius]))
    shifts = _round(angle * sizes / (2 * np.pi)).astype(np.int64)
    place = np.arange(len(ring)) - starts[ring]
    source = starts[ring] + (place + shifts[ring]) % sizes[ring]
    return x, y, x[source], y[source]


def _vortex_map(v: Vortex, height: int, width: int, rule: Callable[[Vortex], tuple[np.ndarray, ...]]) -> np.ndarray:
    """The flat gather map of one vortex on an ``height`` x ``width`` image."""
    c1, c2, r = v.center[0], v.center[1], v.radius
    if c1 - r < 1 or c2 - r < 1 or c1 + r > height or c2 + r > width:
        raise ValueError(f"vortex at {v.center} with radius {r} does not fit a {height}x{width} image")
    x, y, big_x, big_y = rule(v)
    row0, col0 = c1 - r - 2, c2 - r - 2  # 1-based window index -> 0-based image index
    index = np.arange(height * width)
    index[(row0 + x) * width + col0 + y] = (row0 + big_x) * width + col0 + big_y
    return index


@lru_cache(maxsize=64)
def _cached_map(vortex_key: VortexKey, height: int, width: int, mode: str, device: torch.device) -> torch.Tensor:
    """The gather map of :func:`coordinate_map` on ``device``; shared, so never changed in place."""
    rule = _invertible_window if mode == "invertible" else _faithful_window
    grid = (width, height) if vortex_key.transposed else (height, width)
    total = np.arange(height * width)
    for v in vortex_key.vortices:
        if v.radius > 0:
            total = total[_vortex_map(v, *grid, rule)]  # out[q] = previous[m[q]]
    if vortex_key.transposed:  # indices on the transposed grid -> natural flat indices
        natural = (total % height) * width + total // height
        total = natural.reshape(width, height).T.reshape(-1)
    return torch.from_numpy(np.ascontiguousarray(total)).to(device)


def coordinate_map(vortex_key: VortexKey, shape: Sequence[int], mode: str = "invertible") -> torch.Tensor:
    """The flat gather map (int64, CPU, length H*W) of ``vortex_key`` on images of ``shape``.

    Output pixel ``q`` (flat row-major index) takes source pixel ``map[q]``. Cached per key,
    size and mode.

    >>> still = VortexKey((Vortex((2, 2), 0, ()),))  # one vortex of radius 0
    >>> torch.equal(coordinate_map(still, (4, 4)), torch.arange(16))
    True
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(vortex_key, VortexKey):
        raise TypeError(f"vortex_key must be a VortexKey, got {type(vortex_key).__name__}")
    return _cached_map(vortex_key, *_check_size(shape), mode, torch.device("cpu")).clone()


@dataclass(frozen=True)
class MapStats:
    """What a gather map does to the ``positions`` pixels of an image.

    ``moved``: outputs that read another position; ``never_read``: sources no output reads
    (dropped content); ``duplicated``: sources read more than once; ``mean_displacement``:
    mean distance in pixels between an output and its source, over all positions.
    """

    positions: int
    moved: int
    never_read: int
    duplicated: int
    mean_displacement: float


def map_statistics(index: torch.Tensor, shape: Sequence[int]) -> MapStats:
    """Moved, never-read and duplicated pixels of a flat gather map on images of ``shape``.

    >>> map_statistics(torch.tensor([1, 0, 2, 3]), (2, 2))  # the top two pixels swapped
    MapStats(positions=4, moved=2, never_read=0, duplicated=0, mean_displacement=0.5)
    >>> map_statistics(torch.tensor([0, 0, 2, 3]), (2, 2))  # pixel 0 read twice, pixel 1 dropped
    MapStats(positions=4, moved=1, never_read=1, duplicated=1, mean_displacement=0.25)
    """
    height, width = _image_size(shape)
    index = _gather_map(index, height, width)
    counts = torch.bincount(index, minlength=height * width)
    target = torch.arange(height * width)
    shift = torch.stack(((index // width - target // width), (index % width - target % width))).double()
    return MapStats(
        positions=height * width,
        moved=int((index != target).sum()),
        never_read=int((counts == 0).sum()),
        duplicated=int((counts > 1).sum()),
        mean_displacement=float(shift.norm(dim=0).mean()),
    )


def _image_size(shape: Sequence[int]) -> tuple[int, int]:
    """The last two entries of ``shape`` as positive ints ``(H, W)``."""
    sizes = _sequence(shape, "shape")
    if len(sizes) < 2:
        raise ValueError(f"shape must end in (H, W), got {shape!r}")
    return _checks.positive_int(sizes[-2], "shape height"), _checks.positive_int(sizes[-1], "shape width")


def _gather_map(index: Any, height: int, width: int) -> torch.Tensor:
    """``index`` as a flat int64 CPU tensor of ``H * W`` entries, each in ``0 .. H*W - 1``."""
    index = _checks.integer_tensor(index, "index", "integer pixel positions")
    index, positions = index.reshape(-1).cpu().to(torch.int64), height * width
    if index.numel() != positions:
        raise ValueError(f"index has {index.numel()} entries, expected {positions} for a {height}x{width} image")
    if int(index.min()) < 0 or int(index.max()) >= positions:
        raise ValueError(f"index must hold pixel positions 0..{positions - 1} of a {height}x{width} image, "
                         f"got values from {int(index.min())} to {int(index.max())}")
    return index


def displacement_field(index: torch.Tensor, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(d_row, d_col)`` arrays ``(H, W)``: where each output pixel reads from, relative to itself.

    >>> d_row, d_col = displacement_field(torch.tensor([1, 0, 2, 3]), (2, 2))  # the top two pixels swapped
    >>> d_row.tolist(), d_col.tolist()
    ([[0.0, 0.0], [0.0, 0.0]], [[1.0, -1.0], [0.0, 0.0]])
    """
    height, width = (int(s) for s in shape[-2:])
    index = torch.as_tensor(index).reshape(-1).cpu().numpy()
    if index.size != height * width:
        raise ValueError(f"index has {index.size} entries, expected {height * width} for a {height}x{width} image")
    target = np.arange(height * width)
    return ((index // width - target // width).reshape(height, width).astype(float),
            (index % width - target % width).reshape(height, width).astype(float))


def reference_apply(image: np.ndarray, vortex_key: VortexKey) -> np.ndarray:
    """One ``(H, W)`` or ``(H, W, C)`` image through the authors' per-pixel loops; slow.

    A line-by-line port of the loops in ``mnist_fashion_vor.m`` (0-based slicing here; a
    transposed key acts on the transposed image), for checking and benchmarking the faithful
    gather map of :class:`RandomVortex`.

    >>> cipher, image = RandomVortex(mode="faithful"), torch.arange(256, dtype=torch.uint8).view(1, 16, 16)
    >>> key = cipher.make_key(0, (1, 16, 16))
    >>> slow = reference_apply(image[0].numpy(), cipher.vortex_key(key, (16, 16)))
    >>> bool((slow == cipher.encrypt(image, key)[0].numpy()).all())
    True
    """
    if vortex_key.transposed:
        return reference_apply(image.swapaxes(0, 1), VortexKey(vortex_key.vortices)).swapaxes(0, 1)

    def matlab_round(value: float) -> int:  # halves away from zero; every value here is >= 0
        return math.floor(value + 0.5)

    out = image.copy()
    for v in vortex_key.vortices:
        r = v.radius
        if r <= 0:
            continue
        c1, c2 = v.center
        window = out[c1 - r - 1 : c1 + r, c2 - r - 1 : c2 + r].copy()
        result = window.copy()
        w, h = window.shape[:2]
        mid_x, mid_y = w / 2, h / 2
        for y in range(1, h + 1):
            for x in range(1, w + 1):
                yo, xo = y - mid_y, x - mid_x
                radius = math.sqrt(xo * xo + yo * yo)
                if radius > r:
                    continue
                ring = matlab_round(radius)
                angle = math.atan2(yo, xo) + (r - ring) * v.swirl[ring - 1]
                big_x = matlab_round(radius * math.cos(angle) + mid_x)
                big_y = matlab_round(radius * math.sin(angle) + mid_y)
                result[x - 1, y - 1] = window[big_x - 1, big_y - 1]
        out[c1 - r - 1 : c1 + r, c2 - r - 1 : c2 + r] = result
    return out


@dataclass(frozen=True)
class RandomVortex(CipherBase):
    """Random Vortex Transformation as a cipher: ``encrypt(x, key)`` with one key per dataset.

    ``mode`` is ``"invertible"`` (ring-wise cyclic shifts, exact :meth:`decrypt`) or
    ``"faithful"`` (the authors' nearest-neighbour map; not invertible). ``strength`` and
    ``n_vortices`` are as in :func:`generate_vortex_key`. ``key`` may be an imgleak
    :class:`~imgleak.keys.Key` (an RVT key is drawn for the image size) or a :class:`VortexKey`
    (used as is, e.g. the paper's MNIST key).

    >>> cipher = RandomVortex()  # invertible, the MNIST strength
    >>> x = torch.arange(2 * 16 * 16).reshape(2, 1, 16, 16).remainder(256).to(torch.uint8)
    >>> key = cipher.make_key(0, (1, 16, 16))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(y, x)
    (True, False)
    >>> faithful = RandomVortex(mode="faithful")
    >>> exact, rounded = (c.statistics(key, (16, 16)) for c in (cipher, faithful))
    >>> faithful.invertible, exact.never_read, rounded.never_read > 0  # the authors' map drops pixels
    (False, 0, True)
    """

    mode: str = "invertible"
    strength: float | str = "mnist"
    n_vortices: int | None = None
    name: ClassVar[str] = "rvt"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        check_strength(self.strength)
        if self.n_vortices is not None and (
            isinstance(self.n_vortices, bool) or not isinstance(self.n_vortices, (int, np.integer)) or self.n_vortices < 1
        ):
            raise ValueError(f"n_vortices must be a positive int or None, got {self.n_vortices!r}")

    @property
    def invertible(self) -> bool:  # type: ignore[override]
        """Only the ring-shift variant is a permutation."""
        return self.mode == "invertible"

    def describe(self) -> str:
        """E.g. ``"RVT (faithful, strength mnist)"``."""
        return f"RVT ({self.mode}, strength {self.strength})"

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """256: RVT's parameters are real numbers drawn from the 256-bit imgleak key.

        The number of distinct coordinate maps is far smaller and has no closed form.
        """
        check_shape(shape)
        return float(8 * KEY_BYTES)

    def vortex_key(self, key: Key | VortexKey, shape: Sequence[int]) -> VortexKey:
        """The vortices used for images of ``shape``: drawn from ``key``, or ``key`` itself."""
        if isinstance(key, VortexKey):
            return key
        if not isinstance(key, Key):
            raise TypeError(f"key must be an imgleak Key or a VortexKey, got {type(key).__name__}")
        return _generated_key(key, *_check_size(shape), self.strength, self.n_vortices)

    def coordinate_map(self, key: Key | VortexKey, shape: Sequence[int]) -> torch.Tensor:
        """The flat gather map (length H*W, CPU) this cipher applies to images of ``shape``."""
        return coordinate_map(self.vortex_key(key, shape), shape, self.mode)

    def pixel_maps(self, key: Key | VortexKey, shape: Sequence[int], n_images: int = 1, first_index: int = 0) -> torch.Tensor:
        """:meth:`coordinate_map`: one map serves every image (the :class:`~imgleak.ciphers.base.PixelMover` view)."""
        return self.coordinate_map(key, check_map_request(shape, n_images, first_index)[0])

    def statistics(self, key: Key | VortexKey, shape: Sequence[int]) -> MapStats:
        """Moved and never-read pixels of :meth:`coordinate_map` (never-read is 0 when invertible)."""
        return map_statistics(self.coordinate_map(key, shape), shape)

    def _map(self, key: Key | VortexKey, batch: torch.Tensor) -> torch.Tensor:
        """The cached gather map for ``batch``'s image size, on its device (not a copy)."""
        return _cached_map(self.vortex_key(key, batch.shape), *_check_size(batch.shape), self.mode, batch.device)

    def encrypt(self, x: torch.Tensor, key: Key | VortexKey, *, first_index: int = 0) -> torch.Tensor:
        """Apply the vortices to a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)`` (one key for
        every image: ``first_index`` is checked, not used)."""
        check_first_index(first_index)
        batch, single = as_image_batch(x, "x")
        return restore_rank(move_pixels(batch, self._map(key, batch)), single)

    def decrypt(self, y: torch.Tensor, key: Key | VortexKey, *, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (invertible mode only)."""
        check_first_index(first_index)
        if not self.invertible:
            raise NotInvertibleError(
                "faithful RVT cannot be decrypted: the authors' rounding drops some pixels "
                "(see map_statistics); use RandomVortex(mode='invertible') for an exact inverse"
            )
        batch, single = as_image_batch(y, "y")
        return restore_rank(move_pixels(batch, self._map(key, batch), inverse=True), single)


@lru_cache(maxsize=64)
def _generated_key(key: Key, height: int, width: int, strength: float | str, n_vortices: int | None) -> VortexKey:
    return generate_vortex_key(key, (height, width), strength, n_vortices)
