"""The experiments of the RVT chapter: data, encrypted variants, the training grid, loss rates.

Cao et al. (arXiv 2411.16207) train the same networks on plain images, on images encrypted
with their Random Vortex Transformation (RVT) and on per-image random pixel permutations, and
relate the accuracy lost to the image information lost (:mod:`imgleak.information`). This
module holds everything the chapter ``notebooks/information_and_rvt.py`` orchestrates:

- :func:`load_dataset`: scikit-learn's digits (optionally up-scaled with nearest neighbours to
  ``digits_size``, 28 by default: MNIST's size, which the paper's RVT constants were made for)
  or MNIST / Fashion-MNIST / CIFAR-10 from a data folder, split into train and test;
- variants (:class:`~imgleak.ciphers.base.KeyedCipher`: a registered cipher and its key): "plain", an
  RVT key (faithful or invertible, one strength) or a random permutation (per image, as in the
  paper, or one fixed permutation); their gather maps (:func:`pixel_maps`) and :func:`encrypt_dataset`;
- :func:`swap_experiment`: the numerical check of Theorem 3.1 over many random two-pixel swaps,
  measured twice: with the library and with a pair-by-pair evaluation of the definition;
- :func:`information_loss_rates`, :func:`accuracy_grid`, :func:`accuracy_loss_rates`,
  :func:`loss_rate_correlation`: the rates and the correlation of the paper's last experiment;
- :func:`paper_accuracy` (:mod:`imgleak.experiments.paper_values`), :func:`compare_with_paper`
  and :func:`discrepancies`: the official README's accuracies beside ours, and where we differ,
  as data the chapter phrases.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .. import _checks, information
from ..ciphers import Identity, KeyedCipher, PixelMover, RandomPermutation, RandomVortex
from ..ciphers.rvt import PRESETS, MapStats, VortexKey, check_strength, map_statistics
from ..nets.classifiers import MODEL_NAMES
from ..images import LabelledImages, load_digits, load_torchvision
from . import paper_values
from .findings import Finding
from ..keys import Key
from ..tensors import as_image_batch
from ..training.classifier import TrainingResult, split, train_classifier

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10")
"""The names :func:`load_dataset` accepts (digits ship with scikit-learn; the others need a data folder)."""

PLAIN, RVT, PERMUTATION, FIXED_PERMUTATION = "plain", "RVT", "permutation", "fixed permutation"
"""Labels of the variants the accuracy table compares (sweep keys are labelled ``RVT s=<strength>``)."""

PAPER_DATASET: dict[str, str] = {
    "digits": "MNIST", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
}
"""Which of the paper's data sets each of ours is compared with (digits stand in for MNIST)."""

PAPER_MODEL: dict[str, str] = {"resnet18": "ResNet-18", "vit": "ViT-B/16", "vit_b_16": "ViT-B/16"}
"""Which of the paper's models each of ours is compared with (the small ``vit`` stands in for ViT-B/16)."""

def paper_accuracy() -> "pd.DataFrame":  # noqa: F821
    """The paper's test accuracies (%, best epoch; official README): one row per data set and model."""
    return paper_values.table("rvt_accuracy")


# ------------------------------------------------------------------------------------------ data


def resize_nearest(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize uint8 images to ``size`` by repeating pixels (nearest neighbour: no new values).

    Output pixel ``(r, c)`` takes source pixel ``(floor(r * H / h), floor(c * W / w))``; from 8 to
    28 pixels every source pixel becomes a block of 3 or 4 rows (and columns).
    """
    batch, single = as_image_batch(x, "x")
    height, width = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else tuple(size)
    _checks.positive_int(height, "size")
    _checks.positive_int(width, "size")
    rows = torch.arange(int(height), device=batch.device) * batch.shape[2] // int(height)
    cols = torch.arange(int(width), device=batch.device) * batch.shape[3] // int(width)
    out = batch[:, :, rows][:, :, :, cols].contiguous()
    return out.squeeze(0) if single else out


def subset(data: LabelledImages, count: int | None, seed: int = 0) -> LabelledImages:
    """``count`` images drawn at random (seeded) from ``data``, in their original order (``None``: all)."""
    count = _checks.optional_positive_int(count, "count")
    if count is None or count >= len(data):
        return data
    generator = torch.Generator().manual_seed(int(seed))
    rows = torch.randperm(len(data), generator=generator)[:count].sort().values
    return LabelledImages(data.name, data.images[rows], data.labels[rows], data.classes)


def load_dataset(
    name: str = "digits",
    *,
    data_root: str | os.PathLike = "data",
    digits_size: int | None = 28,
    test_fraction: float = 0.25,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    download: bool = False,
) -> tuple[LabelledImages, LabelledImages]:
    """``(train, test)`` of a data set from :data:`DATASETS`.

    ``digits``: scikit-learn's 1,797 8×8 digits, up-scaled to ``digits_size`` × ``digits_size``
    with :func:`resize_nearest` (``None`` keeps 8×8, on which RVT barely moves anything), split
    with :func:`imgleak.training.classifier.split` (stratified, ``test_fraction``, ``seed``). Others: the
    official train and test sets from ``data_root`` (:func:`imgleak.images.load_torchvision`; raises
    :class:`~imgleak.images.DatasetUnavailableError` when missing and ``download`` is off).
    ``train_size`` / ``test_size`` keep seeded random subsets (``None``: everything).
    """
    _checks.choice(name, "dataset", DATASETS)
    digits_size = _checks.optional_positive_int(digits_size, "digits_size")
    if name == "digits":
        digits = load_digits()
        if digits_size is not None and digits_size != digits.images.shape[-1]:
            digits = LabelledImages(f"digits{digits_size}", resize_nearest(digits.images, digits_size),
                                    digits.labels, digits.classes)
        train, test = split(digits, test_fraction, seed)
    else:
        train = load_torchvision(name, data_root, train=True, download=download)
        test = load_torchvision(name, data_root, train=False, download=download)
    return subset(train, train_size, seed), subset(test, test_size, seed + 1)


# ------------------------------------------------------------------------------------------ variants


def preset_strength(strength: float | str) -> float:
    """The swirl factor s of a strength (``"mnist"`` → 0.8, ``"cifar"`` → 0.1; positive numbers as they are)."""
    preset = check_strength(strength)
    return preset.scale / preset.divisor


def rvt_in_mode(variant: KeyedCipher, mode: str) -> KeyedCipher:
    """The same RVT key applied in another mode (``"faithful"`` or ``"invertible"``), same label."""
    if variant.cipher.name != "rvt":
        raise ValueError(f"only RVT variants have a mode; {variant.label!r} is {variant.cipher.describe()}")
    return replace(variant, cipher=replace(variant.cipher, mode=mode))


def pixel_maps(variant: KeyedCipher, n_images: int, shape: Sequence[int], first_index: int = 0) -> torch.Tensor:
    """Flat gather maps (CPU int64) of a pixel-moving variant: ``(H*W,)`` shared by all images, or ``(n_images, H*W)``."""
    if not isinstance(variant.cipher, PixelMover):
        raise ValueError(f"{variant.label!r} ({variant.cipher.describe()}) does not only move pixels: it has no gather map")
    return variant.cipher.pixel_maps(variant.key, shape, n_images, first_index)


def map_stats(variant: KeyedCipher, shape: Sequence[int]) -> MapStats:
    """Moved / never-read pixels and mean displacement of a variant's map (the first image's for per-image maps)."""
    return map_statistics(pixel_maps(variant, 1, shape).reshape(-1), shape)


def plain_variant() -> KeyedCipher:
    """The images as they are (the identity scheme)."""
    return KeyedCipher(Identity(), None, PLAIN)


def rvt_variant(
    key: Key | VortexKey,
    strength: float | str = "mnist",
    mode: str = "faithful",
    *,
    n_vortices: int | None = None,
    label: str | None = None,
) -> KeyedCipher:
    """RVT with the vortices drawn from ``key`` (or a given :class:`VortexKey`) at ``strength``.

    The same ``key`` at another numeric strength gives the same centres, radii and random
    functions with every swirl angle scaled: a sweep over strength changes only how far pixels
    turn. ``label`` defaults to ``"RVT s=<s>"``.
    """
    return KeyedCipher(RandomVortex(mode, strength, n_vortices), key, label or f"RVT s={preset_strength(strength):g}")


def permutation_variant(key: Key, per_image: bool = True, label: str | None = None) -> KeyedCipher:
    """Random pixel permutation: a fresh one for every image (the paper's baseline) or one fixed key."""
    return KeyedCipher(RandomPermutation(per_image), key.derive("permutation-baseline"),
                       label or (PERMUTATION if per_image else FIXED_PERMUTATION))


def standard_variants(
    key: Key,
    *,
    rvt_strength: float | str = "mnist",
    sweep_strengths: Iterable[float] = (),
    mode: str = "faithful",
    fixed_permutation: bool = False,
    main_rvt: KeyedCipher | None = None,
) -> list[KeyedCipher]:
    """The chapter's variants: plain, RVT (label ``"RVT"``), per-image permutation, then the sweep.

    Sweep keys (``"RVT s=<s>"``) share the main key's vortices (same count as the main strength's
    preset); a strength equal to the main one is skipped. ``fixed_permutation`` adds one fixed
    permutation for all images. ``main_rvt`` replaces the main RVT key drawn from ``key`` (e.g. the
    paper's key from :func:`reference_variants`); the sweep is still drawn from ``key``.
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    if main_rvt is not None and (not isinstance(main_rvt, KeyedCipher) or main_rvt.label != RVT):
        raise ValueError(f"main_rvt must be a KeyedCipher labelled {RVT!r}, got {main_rvt!r}")
    main = main_rvt or rvt_variant(key, rvt_strength, mode, label=RVT)
    count = PRESETS[rvt_strength].n_vortices if isinstance(rvt_strength, str) else None
    variants = [plain_variant(), main, permutation_variant(key)]
    if fixed_permutation:
        variants.append(permutation_variant(key, per_image=False))
    seen = {None if main_rvt is not None else preset_strength(rvt_strength)}  # the paper's keys have no strength
    for s in sweep_strengths:
        s = preset_strength(s)
        if s not in seen:
            seen.add(s)
            variants.append(rvt_variant(key, s, mode, n_vortices=count))
    return variants


_REFERENCE_SETS: dict[str, tuple[str, float, int, bool]] = {
    # our data set -> (record set in rvt_params.json, divisor, vortices the script uses, transposed)
    "digits": ("vor_params_mnist_result", 1000.0, 10, False),
    "mnist": ("vor_params_mnist_result", 1000.0, 10, False),
    "fashion_mnist": ("vor_params_fashion", 1000.0, 10, False),
    "cifar10": ("vor_params_cifar", 10000.0, 5, True),
}


def reference_variants(path: str | os.PathLike, dataset: str, mode: str = "faithful") -> list[KeyedCipher]:
    """The paper's own RVT keys from ``rvt_params.json`` (the authors' ``.mat`` files converted).

    The data set's key is labelled ``"RVT"``; for MNIST (and the digits that stand in for it) the
    three extra "sensitivity" keys follow as ``"RVT sensitivity1"``... (the keys are stored as
    angles, not as a strength).
    """
    import json

    if dataset not in _REFERENCE_SETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    try:
        sets = json.loads(open(path, encoding="utf-8").read())["sets"]
    except OSError as err:
        raise FileNotFoundError(f"cannot read the paper's RVT keys from {str(path)!r}: {err}") from err
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{str(path)!r} is not an rvt_params.json file (a 'sets' object of key records): {err}") from err
    name, divisor, count, transposed = _REFERENCE_SETS[dataset]
    names = [name] + ([f"vor_params_mnist_sensitivity{i}" for i in (1, 2, 3)] if name.endswith("mnist_result") else [])
    variants = []
    for i, set_name in enumerate(names):
        if set_name not in sets:
            raise ValueError(f"{str(path)!r} has no key set {set_name!r}")
        key = VortexKey.from_reference(sets[set_name], divisor, n_vortices=count, transposed=transposed)
        label = RVT if i == 0 else f"RVT {set_name.rsplit('_', 1)[-1]}"
        variants.append(KeyedCipher(RandomVortex(mode), key, label))
    return variants


def encrypt_dataset(data: LabelledImages, variant: KeyedCipher, first_index: int = 0) -> LabelledImages:
    """``data`` with its images in ``variant`` (labels and classes kept; name suffixed)."""
    if not isinstance(variant, KeyedCipher):
        raise TypeError(f"variant must be a KeyedCipher (a cipher and its key), got {type(variant).__name__}")
    return LabelledImages(f"{data.name} [{variant.label}]", variant.encrypt(data.images, first_index),
                          data.labels, data.classes)


# ------------------------------------------------------------------------------------------ measure


def _measure(measure: Mapping[str, Any] | None) -> dict[str, Any]:
    allowed = {"decay", "change_scale", "radius", "value_weight"}
    measure = dict(measure or {})
    unknown = set(measure) - allowed
    if unknown:
        raise ValueError(f"unknown measure parameter(s) {sorted(unknown)}; choose from {sorted(allowed)}")
    return measure


def information_loss_rates(
    images: torch.Tensor, variants: Sequence[KeyedCipher], measure: Mapping[str, Any] | None = None,
    first_index: int = 0,
) -> "pd.DataFrame":  # noqa: F821
    """Mean information loss rate ΔM / M(I) of each variant over ``images`` (all-black images skipped).

    One row per variant: ``variant, scheme`` (registered name), ``description``, ``info_loss_rate,
    info_loss_sd, moved, never_read, mean_displacement`` (map statistics on one image).
    """
    import pandas as pd

    batch, _ = as_image_batch(images, "images")
    params = _measure(measure)
    rows = []
    for variant in variants:
        index = pixel_maps(variant, batch.shape[0], batch.shape, first_index)
        rates = information.information_loss_rate(batch, index, **params).double()
        rates = rates[~torch.isnan(rates)]
        stats = map_stats(variant, batch.shape)
        rows.append({
            "variant": variant.label, "scheme": variant.cipher.name, "description": variant.cipher.describe(),
            "info_loss_rate": float(rates.mean()), "info_loss_sd": float(rates.std()) if rates.numel() > 1 else 0.0,
            "moved": stats.moved, "never_read": stats.never_read, "mean_displacement": stats.mean_displacement,
        })
    return pd.DataFrame(rows)


def swap_maps(n_pixels: int, pairs: torch.Tensor) -> torch.Tensor:
    """Gather maps ``(S, n_pixels)`` that exchange pixels ``pairs[s, 0]`` and ``pairs[s, 1]``."""
    pairs = torch.as_tensor(pairs, dtype=torch.int64)
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be shaped (S, 2), got {tuple(pairs.shape)}")
    maps = torch.arange(n_pixels).repeat(pairs.shape[0], 1)
    rows = torch.arange(pairs.shape[0])
    maps[rows, pairs[:, 0]] = pairs[:, 1]
    maps[rows, pairs[:, 1]] = pairs[:, 0]
    return maps


def _pair_list(height: int, width: int, radius: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All pixel pairs a < b with distance <= radius: (a, b, distance)."""
    rows, cols = np.divmod(np.arange(height * width), width)
    a_list, b_list = [], []
    reach = int(math.floor(radius))
    for dy in range(0, reach + 1):
        for dx in range(-reach, reach + 1):
            if (dy == 0 and dx <= 0) or dy * dy + dx * dx > radius * radius:
                continue
            ok = (rows + dy < height) & (cols + dx >= 0) & (cols + dx < width)
            a = np.flatnonzero(ok)
            a_list.append(a)
            b_list.append(a + dy * width + dx)
    a = torch.from_numpy(np.concatenate(a_list))
    b = torch.from_numpy(np.concatenate(b_list))
    d = torch.from_numpy(np.hypot(rows[b.numpy()] - rows[a.numpy()], cols[b.numpy()] - cols[a.numpy()]))
    return a, b, d


def reference_information(
    x: torch.Tensor, index: torch.Tensor, measure: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(M(I), M(T; I))`` per image, summed pair by pair from the definition, for **bijective** maps.

    An independent evaluation of :mod:`imgleak.information` (an explicit list of pairs instead of
    shifted windows, and M(T; I) itself instead of the variation): ``index`` is ``(H*W,)`` or
    ``(N, H*W)`` and must be a permutation (every pixel lands exactly once).
    """
    params = {"decay": information.DECAY, "change_scale": information.CHANGE_SCALE,
              "radius": information.RADIUS, "value_weight": "product", **_measure(measure)}
    batch, _ = as_image_batch(x, "x")
    n, _, height, width = batch.shape
    p = height * width
    index = torch.as_tensor(index).to(torch.int64).reshape(-1, p).cpu()
    if index.shape[0] not in (1, n):
        raise ValueError(f"index must be shaped ({p},) or ({n}, {p}), got {tuple(index.shape)}")
    index = index.expand(n, p).contiguous()
    landing = torch.empty_like(index).scatter_(1, index, torch.arange(p).expand(n, p))
    if not bool((torch.sort(index, dim=1).values == torch.arange(p)).all()):
        raise ValueError("reference_information needs bijective gather maps (permutations of the pixels)")
    v = batch.cpu().double().reshape(n, -1, p) / 255
    a, b, d = _pair_list(height, width, params["radius"])
    if params["value_weight"] == "none":
        h_sum = torch.full((n,), float(v.shape[1] * p), dtype=torch.float64)
        u = torch.full((n, a.numel()), float(v.shape[1]), dtype=torch.float64)
    else:
        h_sum = v.sum(dim=(1, 2))
        pair = (v[:, :, a] * v[:, :, b]) if params["value_weight"] == "product" else (v[:, :, a] - v[:, :, b]).abs()
        u = pair.sum(dim=1)
    w = torch.exp(-(d - 1) / params["decay"])
    la, lb = landing[:, a], landing[:, b]
    d_new = torch.hypot((la // width - lb // width).double(), (la % width - lb % width).double())
    kept = w * torch.exp(-(d_new - d).abs() / params["change_scale"])
    return h_sum + (u * w).sum(dim=1), h_sum + (u * kept).sum(dim=1)


@dataclass
class SwapCheck:
    """Theorem 3.1 checked on random swaps of two pixels.

    ``image``: which image each swap was applied to; ``pairs`` ``(S, 2)``: the pixels swapped;
    ``equal_values``: whether the two pixels held the same values (the image does not change);
    ``content``: M(I) of the swap's image; ``delta``: ΔM from :func:`imgleak.information.information_variation`;
    ``delta_reference``: M(I) − M(T; I) from :func:`reference_information`; ``tolerance``: the
    relative round-off allowance below which a negative ``delta_reference`` counts as zero.
    """

    image: torch.Tensor
    pairs: torch.Tensor
    equal_values: torch.Tensor
    content: torch.Tensor
    delta: torch.Tensor
    delta_reference: torch.Tensor
    measure: dict[str, Any]
    tolerance: float = 1e-9

    def _allowance(self) -> torch.Tensor:
        return self.tolerance * self.content.abs().clamp_min(1.0)

    @property
    def increased(self) -> int:
        """Swaps after which the information content rose (Theorem 3.1: must be 0), by either evaluation."""
        allowance = self._allowance()
        return int(((self.delta < -allowance) | (self.delta_reference < -allowance)).sum())

    @property
    def unchanged(self) -> int:
        """Swaps that left the content unchanged (ΔM within round-off of 0)."""
        return int((self.delta_reference.abs() <= self._allowance()).sum())

    @property
    def decreased(self) -> int:
        """Swaps that lowered the content."""
        return int((self.delta_reference > self._allowance()).sum())

    @property
    def equal_but_lost(self) -> int:
        """Swaps of two equal-valued pixels (the image is unchanged) for which ΔM > 0 all the same.

        The measure follows where each pixel's content goes, not the resulting image: exchanging
        two equal bright pixels moves their pairs. Treating such swaps as the identity (the
        paper's "remains unchanged" case) sets these ΔM to 0.
        """
        return int((self.equal_values & (self.delta_reference > self._allowance())).sum())

    @property
    def max_disagreement(self) -> float:
        """Largest ``|ΔM(library) − ΔM(reference)|`` relative to M(I)."""
        return float(((self.delta - self.delta_reference).abs() / self.content.clamp_min(1e-12)).max())

    def summary(self) -> dict[str, Any]:
        """The counts, the round-off tolerance and the agreement of the two evaluations."""
        return {
            "swaps": int(self.delta.numel()), "increased": self.increased, "unchanged": self.unchanged,
            "decreased": self.decreased, "equal-valued swaps": int(self.equal_values.sum()),
            "equal-valued swaps with ΔM > 0": self.equal_but_lost,
            "largest relative ΔM": float((self.delta / self.content.clamp_min(1e-12)).max()),
            "smallest ΔM (reference)": float(self.delta_reference.min()),
            "library vs reference (max relative difference)": self.max_disagreement,
        }

    def to_dataframe(self) -> "pd.DataFrame":  # noqa: F821
        """One row per swap: image, pixels, whether equal-valued, M(I), both ΔM and ΔM / M(I)."""
        import pandas as pd

        return pd.DataFrame({
            "image": self.image.numpy(), "pixel_a": self.pairs[:, 0].numpy(), "pixel_b": self.pairs[:, 1].numpy(),
            "equal_values": self.equal_values.numpy(), "content": self.content.numpy(),
            "delta": self.delta.numpy(), "delta_reference": self.delta_reference.numpy(),
            "relative_delta": (self.delta / self.content.clamp_min(1e-12)).numpy(),
        })


def swap_experiment(
    images: torch.Tensor, n_swaps: int = 1000, seed: int = 0, measure: Mapping[str, Any] | None = None,
    chunk: int = 512, tolerance: float = 1e-9,
) -> SwapCheck:
    """Swap two random pixels of a random image ``n_swaps`` times and measure ΔM each time.

    Every swap is uniform over the images and over pairs of distinct pixels (so most swaps on
    digits exchange two black background pixels). ΔM is computed by the library and by
    :func:`reference_information`.
    """
    batch, _ = as_image_batch(images, "images")
    n_swaps = _checks.positive_int(n_swaps, "n_swaps")
    chunk = _checks.positive_int(chunk, "chunk")
    params = _measure(measure)
    n, _, height, width = batch.shape
    p = height * width
    if p < 2:
        raise ValueError(f"images need at least 2 pixels to swap, got {height}x{width}")
    generator = torch.Generator().manual_seed(int(seed))
    which = torch.randint(0, n, (n_swaps,), generator=generator)
    first = torch.randint(0, p, (n_swaps,), generator=generator)
    second = (first + torch.randint(1, p, (n_swaps,), generator=generator)) % p  # distinct from first
    pairs = torch.stack([first, second], dim=1)
    flat = batch.cpu().reshape(n, -1, p)
    equal = (flat[which, :, first] == flat[which, :, second]).all(dim=1)
    content = information.information_content(batch.cpu(), **{k: v for k, v in params.items() if k != "change_scale"})
    deltas, references = [], []
    for start in range(0, n_swaps, chunk):
        part = slice(start, start + chunk)
        x = batch.cpu()[which[part]]
        maps = swap_maps(p, pairs[part])
        deltas.append(information.information_variation(x, maps, **params).double())
        before, after = reference_information(x, maps, params)
        references.append(before - after)
    return SwapCheck(which, pairs, equal, content[which].double(), torch.cat(deltas), torch.cat(references),
                     params, tolerance)


# ------------------------------------------------------------------------------------------ training


@dataclass
class AccuracyGrid:
    """Test accuracies of every model on every variant: ``table`` (one row per run) and the results."""

    table: "pd.DataFrame"  # noqa: F821
    results: dict[tuple[str, str], TrainingResult] = field(default_factory=dict, repr=False)


def accuracy_grid(
    train: LabelledImages,
    test: LabelledImages,
    variants: Sequence[KeyedCipher],
    models: Sequence[str],
    *,
    model_settings: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
    **train_options: Any,
) -> AccuracyGrid:
    """Train every model on every variant of ``train`` and test it on the same variant of ``test``.

    Train images are encrypted with data-set indices ``0..N-1`` and test images with ``N..``
    (fresh per-image permutations). ``train_options`` go to
    :func:`imgleak.training.classifier.train_classifier` for every run; ``model_settings[model]`` overrides
    them for one model (e.g. ``{"vit": {"warmup_epochs": 1}}``; settings for models not in
    ``models`` are ignored). The table has ``model, variant,
    scheme, mode, strength, best_accuracy, final_accuracy, best_epoch, epochs, seconds`` with
    accuracies as fractions; the first variant should be plain (see :func:`accuracy_loss_rates`).
    """
    import pandas as pd

    models = _checks.names(models, "models", MODEL_NAMES)
    if not variants:
        raise ValueError("variants must not be empty")
    settings = {k: dict(v) for k, v in (model_settings or {}).items()}
    unknown = set(settings) - set(MODEL_NAMES)
    if unknown:
        raise ValueError(f"model_settings names unknown model(s) {sorted(unknown)}; choose from {', '.join(MODEL_NAMES)}")
    rows, results = [], {}
    runs = [(v, m) for v in variants for m in models]
    bar = tqdm(total=len(runs), desc="accuracy grid", unit="run", disable=not progress)
    for variant in variants:
        encrypted_train = encrypt_dataset(train, variant, 0)
        encrypted_test = encrypt_dataset(test, variant, len(train))
        for model in models:
            options = {"progress": False, **train_options, **settings.get(model, {})}
            result = train_classifier(encrypted_train, encrypted_test, model, **options)
            results[(model, variant.label)] = result
            rows.append({
                "model": model, "variant": variant.label, "scheme": variant.cipher.name,
                "description": variant.cipher.describe(), "best_accuracy": result.best_test_accuracy,
                "final_accuracy": result.final_test_accuracy, "best_epoch": result.best_epoch,
                "epochs": len(result.test_accuracy), "seconds": result.seconds,
            })
            bar.update()
            bar.set_postfix(model=model, variant=variant.label, acc=f"{result.best_test_accuracy:.3f}")
    bar.close()
    return AccuracyGrid(pd.DataFrame(rows), results)


def accuracy_loss_rates(table: "pd.DataFrame", accuracy: str = "best_accuracy") -> "pd.DataFrame":  # noqa: F821
    """``table`` with ``accuracy_loss_rate = (acc_plain - acc) / acc_plain`` per model."""
    if PLAIN not in set(table["variant"]):
        raise ValueError(f"the table needs a {PLAIN!r} row for every model to compute accuracy loss rates")
    plain = table[table["variant"] == PLAIN].set_index("model")[accuracy]
    out = table.copy()
    out["accuracy_loss_rate"] = (out["model"].map(plain) - out[accuracy]) / out["model"].map(plain)
    return out


def loss_rate_points(grid_table: "pd.DataFrame", rates: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """One point per model and encrypted variant: ``info_loss_rate`` beside ``accuracy_loss_rate``."""
    table = accuracy_loss_rates(grid_table)
    merged = table.merge(rates[["variant", "info_loss_rate", "mean_displacement", "never_read"]], on="variant")
    return merged[merged["variant"] != PLAIN].reset_index(drop=True)


def loss_rate_correlation(points: "pd.DataFrame", label: str = "all variants") -> "pd.DataFrame":  # noqa: F821
    """Pearson and Spearman coefficients (with p-values) of info vs accuracy loss rate: all points and per model.

    ``label`` fills the ``variants`` column (say which variants ``points`` holds, so that tables
    for several selections can be concatenated). Fewer than 3 points, or constant rates, give NaN.
    """
    import pandas as pd
    from scipy import stats

    if points["model"].nunique() > 1:
        groups = [("all models", points)] + [(m, g) for m, g in points.groupby("model", sort=False)]
    else:
        groups = [(points["model"].iloc[0], points)]
    rows = []
    for name, group in groups:
        x, y = group["info_loss_rate"].to_numpy(), group["accuracy_loss_rate"].to_numpy()
        if len(group) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            pearson = spearman = (float("nan"), float("nan"))
        else:
            pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
        rows.append({"variants": label, "points": name, "n": len(group), "pearson_r": float(pearson[0]), "pearson_p": float(pearson[1]),
                     "spearman_rho": float(spearman[0]), "spearman_p": float(spearman[1])})
    return pd.DataFrame(rows)


def compare_with_paper(grid_table: "pd.DataFrame", dataset: str, accuracy: str = "best_accuracy") -> "pd.DataFrame":  # noqa: F821
    """Our plain / RVT / permutation accuracies (%) per model beside the paper's ("paper ...").

    ``dataset`` is ours (:data:`DATASETS`); it is compared with :data:`PAPER_DATASET`\\ [dataset]
    and each model with :data:`PAPER_MODEL`. Columns: ``model, paper model, plain, RVT,
    permutation, paper plain, paper RVT, paper permutation, RVT drop, paper RVT drop,
    permutation drop, paper permutation drop`` (drops in points).
    """
    _checks.choice(dataset, "dataset", DATASETS)
    columns = [PLAIN, RVT, PERMUTATION]
    ours = (grid_table[grid_table["variant"].isin(columns)]
            .pivot_table(index="model", columns="variant", values=accuracy, sort=False) * 100)
    ours = ours.reindex(columns=columns)
    paper = paper_accuracy()
    paper = paper[paper["dataset"] == PAPER_DATASET[dataset]].set_index("model")
    out = ours.reset_index()
    out.insert(1, "paper model", out["model"].map(PAPER_MODEL))
    for column in columns:
        out[f"paper {column}"] = out["paper model"].map(paper[column])
    for column in (RVT, PERMUTATION):
        out[f"{column} drop"] = out[PLAIN] - out[column]
        out[f"paper {column} drop"] = out[f"paper {PLAIN}"] - out[f"paper {column}"]
    out.columns.name = None
    return out


def discrepancies(
    comparison: "pd.DataFrame", rates: "pd.DataFrame", points: "pd.DataFrame", correlation: "pd.DataFrame",  # noqa: F821
    n_test: int | None = None,
) -> list[Finding]:
    """Where this run differs from the paper, as :class:`~imgleak.experiments.findings.Finding` s for the chapter to phrase.

    In this order (``numbers`` in brackets; accuracies and drops in points):

    - ``"accuracy"``, per row of ``comparison`` [``model``, ``paper_model``; ``plain``,
      ``rvt_drop``, ``permutation_drop`` and the paper's ``paper_plain``, ``paper_rvt_drop``,
      ``paper_permutation_drop``];
    - ``"noise"``, with ``n_test`` test images [``n_test``; ``se_min``, ``se_max``: the binomial
      standard error of one accuracy at our plain accuracies; ``noise`` = 2√2 × ``se_max``: a
      difference between two variants below it is within noise];
    - ``"information loss"``, when ``rates`` has RVT and the per-image permutation [``rvt``,
      ``permutation``: mean information loss rates; ``ratio`` = permutation / rvt]; holds when RVT
      loses less, as the paper finds;
    - ``"correlation"``, per selection of variants in ``correlation``: its first row [``variants``,
      ``points``, ``n``, ``pearson_r``, ``pearson_p``, ``spearman_rho``, ``spearman_p``];
    - ``"fixed permutation"``, per model with both permutations in ``points`` [``model``;
      ``fixed``, ``per_image``: accuracy loss rates; ``fixed_info``, ``per_image_info``:
      information loss rates].
    """
    n_test = _checks.optional_positive_int(n_test, "n_test")
    out = [Finding("accuracy", {
        "model": row["model"], "paper_model": row["paper model"], "plain": row[PLAIN], "paper_plain": row[f"paper {PLAIN}"],
        "rvt_drop": row[f"{RVT} drop"], "paper_rvt_drop": row[f"paper {RVT} drop"],
        "permutation_drop": row[f"{PERMUTATION} drop"], "paper_permutation_drop": row[f"paper {PERMUTATION} drop"],
    }) for _, row in comparison.iterrows()]
    if n_test:
        errors = [math.sqrt(p * (1 - p) / n_test) * 100 for p in comparison[PLAIN] / 100]
        out.append(Finding("noise", {"n_test": n_test, "se_min": min(errors), "se_max": max(errors),
                                     "noise": 2 * math.sqrt(2) * max(errors)}))
    by_variant = rates.set_index("variant")["info_loss_rate"]
    if RVT in by_variant and PERMUTATION in by_variant:
        rvt, permutation = by_variant[RVT], by_variant[PERMUTATION]
        out.append(Finding("information loss", {"rvt": rvt, "permutation": permutation, "ratio": permutation / rvt},
                           holds=bool(rvt < permutation)))
    columns = ["variants", "points", "pearson_r", "pearson_p", "spearman_rho", "spearman_p"]
    out += [Finding("correlation", {**{c: first[c] for c in columns}, "n": int(first["n"])})
            for _, first in correlation.groupby("variants", sort=False).head(1).iterrows()]
    return out + _fixed_permutation_findings(points)


def _fixed_permutation_findings(points: "pd.DataFrame") -> list[Finding]:  # noqa: F821
    """Per model: accuracy and information loss rates of the fixed and of the per-image permutation."""
    fixed = points[points["variant"] == FIXED_PERMUTATION].set_index("model")
    per_image = points[points["variant"] == PERMUTATION].set_index("model")
    return [Finding("fixed permutation", {
        "model": model, "fixed": fixed.at[model, "accuracy_loss_rate"], "per_image": per_image.at[model, "accuracy_loss_rate"],
        "fixed_info": fixed.at[model, "info_loss_rate"], "per_image_info": per_image.at[model, "info_loss_rate"],
    }) for model in fixed.index.intersection(per_image.index)]


__all__ = [
    "DATASETS", "FIXED_PERMUTATION", "PAPER_DATASET", "PAPER_MODEL", "PERMUTATION", "PLAIN", "RVT",
    "AccuracyGrid", "SwapCheck", "accuracy_grid", "accuracy_loss_rates", "compare_with_paper", "discrepancies",
    "encrypt_dataset", "information_loss_rates", "load_dataset", "loss_rate_correlation",
    "loss_rate_points", "map_stats", "paper_accuracy", "permutation_variant", "pixel_maps", "plain_variant", "preset_strength",
    "reference_information", "reference_variants", "resize_nearest", "rvt_in_mode", "rvt_variant", "standard_variants", "subset", "swap_experiment",
    "swap_maps",
]
