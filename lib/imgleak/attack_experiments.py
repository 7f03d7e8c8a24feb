"""The experiments of the attacks chapter: schemes, the schemes × attacks grid, Tables 1 and 2.

Sirichotedumrong & Kiya (arXiv 2010.06198) attack five learnable-encryption schemes with three
ciphertext-only attacks and score each reconstruction by its mean SSIM to the plain test image
(their Table 1), then mark each scheme robust or not against each attack (their Table 2). This
module holds what the chapter ``notebooks/ciphertext_only_attacks.py`` orchestrates:

- :data:`SCHEMES` and :func:`build_schemes`: the keyed schemes from a :class:`~imgleak.keys.Key`
  and the two transformation networks trained on the training images;
- :func:`run_attacks`: FR-Attack, ITN-Attack and GAN-Attack against every scheme, evaluated on
  test images that no attack (and no transformation network) saw;
- :func:`reference_scores`: what a reconstruction must beat to have recovered anything — a flat
  mid-grey image, the mean training image, and the raw cipher image itself;
- :func:`table1`, :func:`table2`: our SSIM table beside the paper's, and the robustness marks
  derived from ours with an explicit threshold;
- :func:`keyspace_table`, :func:`keyspace_curves` and :func:`scheme_statistics`: key spaces, the
  image size where two schemes' key spaces cross, and NPCR / UACI / entropy / correlation.

Image indices for per-image keys ("different keys" modes): training image ``i`` is image ``i``,
test image ``j`` is image ``TEST_OFFSET + j``, so no test image shares a key with a training image.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from imgleak import metrics
from imgleak.ciphers import keyspace
from imgleak.attacks.datasets import CROP_SIZE, AttackData, halves, load_stl10, photo_crops
from imgleak.attacks.feature_reconstruction import feature_reconstruction
from imgleak.attacks.gan import train_gan_attack
from imgleak.attacks.inverse_network import ITN_ARCHITECTURES, AttackResult, reconstruct, train_inverse_network
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.etc import EtCEncryption
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.ciphers.transform_nets import TransformTrainingResult, train_tn_gan, train_tn_model
from imgleak.keys import Key

SCHEME_LABELS: dict[str, str] = {
    "pixelwise_same": "Pixel-wise, same key",
    "pixelwise_different": "Pixel-wise, different keys",
    "tanaka": "Tanaka's scheme",
    "tn_model": "TN-model",
    "tn_gan": "TN-GAN",
    "etc": "EtC (block scrambling)",
}
"""Our scheme names and the paper's row labels (EtC is our addition: not in the paper's tables)."""

SCHEMES: tuple[str, ...] = tuple(SCHEME_LABELS)
"""The names :func:`build_schemes` accepts."""

ATTACKS: tuple[str, ...] = ("fr", "itn", "gan")
"""FR-Attack (feature reconstruction), ITN-Attack (inverse network on known pairs), GAN-Attack."""

ATTACK_LABELS: dict[str, str] = {"fr": "FR-Attack", "itn": "ITN-Attack", "gan": "GAN-Attack"}

TEST_OFFSET = 1_000_000
"""Index of the first test image for per-image keys (training images are 0, 1, …)."""

# Table 1 of the paper: mean SSIM of the reconstructions (STL-10 test images), exactly as printed.
_PAPER_SSIM: dict[str, tuple[float, float, float]] = {
    "pixelwise_same": (0.4646, 0.1715, 0.2688),
    "pixelwise_different": (0.4628, 0.0425, 0.1527),
    "tanaka": (0.1079, 0.9147, 0.7152),
    "tn_model": (0.0263, 0.3142, 0.0793),
    "tn_gan": (0.1093, 0.7369, 0.0956),
}

# Table 2 of the paper, the attack columns: True = robust (○), False = not robust (×).
_PAPER_ROBUST: dict[str, tuple[bool, bool, bool]] = {
    "pixelwise_same": (False, False, False),
    "pixelwise_different": (False, True, False),
    "tanaka": (True, False, False),
    "tn_model": (True, True, True),
    "tn_gan": (True, False, True),
}

# Table 2 of the paper, the other columns (not measured here): protected images usable for
# model training / model testing, classification accuracy, computational cost.
_PAPER_USE: dict[str, tuple[str, str, str, str]] = {
    "pixelwise_same": ("○", "○", "High", "Low"),
    "pixelwise_different": ("○", "○", "High", "Low"),
    "tanaka": ("○", "○", "Low", "Low"),
    "tn_model": ("×", "○", "High", "High"),
    "tn_gan": ("○", "○", "High", "High"),
}


def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (mean SSIM, STL-10): one row per scheme, one column per attack."""
    return pd.DataFrame.from_dict(_PAPER_SSIM, orient="index", columns=list(ATTACKS)).rename_axis("scheme")


def paper_table2() -> pd.DataFrame:
    """The paper's Table 2: ○ (robust / available) or × per attack, and the usage columns."""
    rows = {name: [_mark(r) for r in _PAPER_ROBUST[name]] + list(_PAPER_USE[name]) for name in _PAPER_ROBUST}
    columns = list(ATTACKS) + ["model training", "model testing", "classification", "cost"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("scheme")


DATASETS: tuple[str, ...] = ("photos", "stl10")
"""The data :func:`load_data` offers: crops of the bundled photos (offline) or STL-10 (the paper's)."""


def load_data(
    dataset: str = "photos",
    n_train: int | None = 512,
    n_test: int | None = 128,
    *,
    n_val: int = 0,
    size: int = CROP_SIZE,
    test_photos: int | Sequence[str] = 3,
    max_side: int | None = 256,
    data_root: str = "data",
    download: bool = False,
    seed: int = 0,
) -> AttackData:
    """Training and test images for the chapter.

    ``"photos"``: :func:`~imgleak.attacks.datasets.photo_crops` — ``size`` × ``size`` crops (96,
    STL-10's size) of the bundled photos (each first shrunk to ``max_side``), split by source photo
    (``test_photos`` held out), ``n_val`` extra crops of the training photos to check the TN-model's
    classifier. ``"stl10"``: :func:`~imgleak.attacks.datasets.load_stl10` from ``data_root``
    (``None`` counts keep the whole split, as in the paper; the photo options do not apply).
    """
    if dataset == "photos":
        return photo_crops(n_train, n_test, size, test_photos=test_photos, n_val=n_val, max_side=max_side, seed=seed)
    if dataset == "stl10":
        return load_stl10(data_root, n_train, n_test, seed=seed, download=download)
    raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")


def _mark(robust: bool) -> str:
    return "○" if robust else "×"


def _names(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{what} must be a non-empty list of names from {list(allowed)}, got {values!r}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; choose from {list(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat a name, got {list(values)}")
    return list(values)


# ------------------------------------------------------------------------------------ schemes


@dataclass
class Scheme:
    """One protection scheme ready to encrypt: a keyed cipher, or a trained transformation network.

    ``family`` picks the attack networks shaped for it (``"pixelwise"``, ``"blockwise"``,
    ``"etc"``, ``"tn_model"``, ``"tn_gan"``); ``training`` holds how a transformation network
    was trained (``None`` for keyed schemes).
    """

    name: str
    cipher: Any
    key: Key | None
    family: str
    training: TransformTrainingResult | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return SCHEME_LABELS[self.name]

    def encrypt(self, images: torch.Tensor, first_index: int = 0) -> torch.Tensor:
        """Encrypt uint8 images ``(N, C, H, W)``; image ``k`` of the batch is image ``first_index + k``
        (this matters only for per-image keys)."""
        if self.key is None:
            return self.cipher.encrypt(images)
        if isinstance(self.cipher, (PixelwiseEncryption, EtCEncryption)):
            return self.cipher.encrypt(images, self.key, first_index=first_index)
        return self.cipher.encrypt(images, self.key)


def build_schemes(
    data: AttackData,
    names: Sequence[str] = SCHEMES[:5],
    key: Key | None = None,
    *,
    etc_block: int = 16,
    tn_model: Mapping[str, Any] | None = None,
    tn_gan: Mapping[str, Any] | None = None,
    save_dir: str | os.PathLike | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    progress: bool = True,
) -> dict[str, Scheme]:
    """The schemes called ``names``, keyed from ``key`` (default ``Key.from_seed(seed)``).

    The TN-model is trained on the training images with their labels (photo crops: the source
    photo), checked on ``data.val`` when present; the TN-GAN on the training images (its
    protected domain: pixel-wise encryption with different keys of a disjoint half).
    ``tn_model`` / ``tn_gan``: extra arguments for :func:`~imgleak.ciphers.transform_nets.train_tn_model`
    / :func:`~imgleak.ciphers.transform_nets.train_tn_gan`. With ``save_dir``, each trained
    network is written there as ``<name>-seed<seed>.pt`` (:meth:`TransformNet.save`; an existing
    file is never overwritten: ``-2``, ``-3``, … is appended) and the path kept in
    ``training.settings["saved_to"]``.
    """
    names = _names(names, SCHEMES, "schemes")
    key = Key.from_seed(seed) if key is None else key
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key or None, got {type(key).__name__}")
    common = {"seed": seed, "device": device, "num_threads": num_threads, "progress": progress}
    schemes: dict[str, Scheme] = {}
    for name in names:
        sub = key.derive(f"attacks/{name}")
        if name == "pixelwise_same":
            schemes[name] = Scheme(name, PixelwiseEncryption("same"), sub, "pixelwise")
        elif name == "pixelwise_different":
            schemes[name] = Scheme(name, PixelwiseEncryption("different"), sub, "pixelwise")
        elif name == "tanaka":
            schemes[name] = Scheme(name, BlockwiseScramble(), sub, "blockwise")
        elif name == "etc":
            schemes[name] = Scheme(name, EtCEncryption(block=etc_block, mode="same"), sub, "etc")
        elif name == "tn_model":
            evaluation = {} if data.val is None else {"eval_images": data.val, "eval_labels": data.val_labels}
            result = train_tn_model(data.train, data.train_labels, **{**evaluation, **common, **dict(tn_model or {})})
            schemes[name] = Scheme(name, result.cipher, None, "tn_model", result)
        else:  # tn_gan
            result = train_tn_gan(data.train, **{**common, **dict(tn_gan or {})})
            schemes[name] = Scheme(name, result.cipher, None, "tn_gan", result)
        if save_dir is not None and schemes[name].training is not None:
            path = _free_path(Path(save_dir), f"{name}-seed{seed}")
            schemes[name].training.settings["saved_to"] = str(schemes[name].cipher.save(path))
    return schemes


def _free_path(folder: Path, stem: str) -> Path:
    """``folder/stem.pt``, or ``stem-2.pt``, ``stem-3.pt``, … whichever does not exist yet (folder created)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, k = folder / f"{stem}.pt", 1
    while path.exists():
        k += 1
        path = folder / f"{stem}-{k}.pt"
    return path


def encrypt_splits(schemes: Mapping[str, Scheme], data: AttackData) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``name -> (encrypted training images, encrypted test images)`` (test images from :data:`TEST_OFFSET`)."""
    return {name: (s.encrypt(data.train, 0), s.encrypt(data.test, TEST_OFFSET)) for name, s in schemes.items()}


# ------------------------------------------------------------------------------------ attacks


@dataclass
class AttackGrid:
    """Every attack against every scheme: a long table and what to show.

    ``table``: one row per (scheme, attack) with ``ssim`` and ``psnr`` (means over the test
    images), ``seconds`` (training + reconstruction) and ``images_per_second`` (training; NaN
    for FR). ``reconstructions[(scheme, attack)]``: the first ``show`` test reconstructions;
    ``ciphers[scheme]``: the first ``show`` encrypted test images; ``curves[(scheme, attack)]``:
    the test SSIM after every epoch (trained attacks); ``results``: the trained attacks.
    """

    table: pd.DataFrame
    reconstructions: dict[tuple[str, str], torch.Tensor]
    ciphers: dict[str, torch.Tensor]
    plain: torch.Tensor
    curves: dict[tuple[str, str], list[float]]
    results: dict[tuple[str, str], AttackResult] = field(default_factory=dict, repr=False)

    @property
    def attacks(self) -> list[str]:
        return [a for a in ATTACKS if a in set(self.table["attack"])]

    def example_columns(self) -> list[str]:
        """Titles of the columns of :meth:`example_rows`."""
        return ["plain", "encrypted"] + [ATTACK_LABELS[a] for a in self.attacks]

    def example_rows(self, index: int = 0) -> dict[str, torch.Tensor]:
        """``scheme label -> (plain, encrypted, one reconstruction per attack)`` of shown test image ``index``."""
        if not 0 <= index < self.plain.shape[0]:
            raise IndexError(f"index must be in 0..{self.plain.shape[0] - 1} (the shown test images), got {index}")
        return {SCHEME_LABELS[name]: torch.stack([self.plain[index], cipher[index]]
                                                 + [self.reconstructions[(name, a)][index] for a in self.attacks])
                for name, cipher in self.ciphers.items()}


def _scores(reconstructions: torch.Tensor, plain: torch.Tensor) -> tuple[float, float]:
    ssim = float(metrics.ssim(reconstructions, plain).mean())
    psnr = float(metrics.psnr(reconstructions, plain).clamp(max=100).mean())
    return ssim, psnr


def run_attacks(
    data: AttackData,
    schemes: Mapping[str, Scheme],
    attacks: Sequence[str] = ATTACKS,
    *,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    gan_fraction: float = 0.5,
    show: int = 4,
    seed: int = 0,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    progress: bool = True,
) -> AttackGrid:
    """Run ``attacks`` against every scheme and score them on the test images.

    FR-Attack: :func:`~imgleak.attacks.feature_reconstruction.feature_reconstruction` on the
    encrypted test images. ITN-Attack: :func:`~imgleak.attacks.inverse_network.train_inverse_network`
    on the pairs (encrypted training image, training image) with the network the paper uses for
    the scheme. GAN-Attack: :func:`~imgleak.attacks.gan.train_gan_attack` with the training
    images split into disjoint halves T1 (encrypted) and T2 (plain; ``gan_fraction`` is T1's
    share). Every score is on the test images.

    ``settings`` holds keyword arguments for each attack function under ``"fr"``, ``"itn"`` or
    ``"gan"``, and for one scheme family under ``"itn/<family>"`` or ``"gan/<family>"`` (families:
    ``pixelwise``, ``blockwise``, ``etc``, ``tn_model``, ``tn_gan``), which win over the former —
    e.g. ``{"itn": {"epochs": 4}, "itn/blockwise": {"epochs": 12}}``.
    """
    attacks = _names(attacks, ATTACKS, "attacks")
    settings = _settings(settings)
    if not schemes:
        raise ValueError("schemes must hold at least one scheme (see build_schemes)")
    show = max(1, min(int(show), int(data.test.shape[0])))
    common = {"seed": seed, "device": device, "num_threads": num_threads, "progress": False}
    if "gan" in attacks:
        t1_rows, t2 = _gan_halves(data.train, seed, gan_fraction)
    encrypted = encrypt_splits(schemes, data)
    rows, recs, curves, results = [], {}, {}, {}
    bar = tqdm([(s, a) for s in schemes for a in attacks], desc="attacks", disable=not progress)
    for name, attack in bar:
        bar.set_postfix_str(f"{attack} on {name}")
        family = schemes[name].family
        train_c, test_c = encrypted[name]
        start = time.perf_counter()
        speed = float("nan")
        options = {**settings.get(attack, {}), **settings.get(f"{attack}/{family}", {})}
        if attack == "fr":
            rec = feature_reconstruction(test_c, **options)
        else:
            test = {"test_cipher_images": test_c, "test_plain_images": data.test}
            if attack == "itn":
                result = train_inverse_network(train_c, data.train, family, **test, **{**common, **options})
            else:
                result = train_gan_attack(train_c[t1_rows], t2, family, **test, **{**common, **options})
            rec = reconstruct(result, test_c)
            speed = result.images_per_second
            curves[(name, attack)] = list(result.test_ssim)
            results[(name, attack)] = result
        seconds = time.perf_counter() - start
        ssim, psnr = _scores(rec, data.test)
        recs[(name, attack)] = rec[:show].cpu()
        rows.append({"scheme": name, "attack": attack, "ssim": ssim, "psnr": psnr, "seconds": seconds,
                     "images_per_second": speed})
    bar.close()
    ciphers = {name: test_c[:show].cpu() for name, (_, test_c) in encrypted.items()}
    return AttackGrid(pd.DataFrame(rows), recs, ciphers, data.test[:show].cpu(), curves, results)


_FAMILIES = tuple(ITN_ARCHITECTURES)  # the scheme families the attack networks are shaped for


def _settings(settings: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Check the keys of :func:`run_attacks`' ``settings`` (``attack`` or ``attack/family``)."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping like {{'itn': {{'epochs': 4}}}}, got {type(settings).__name__}")
    allowed = list(ATTACKS) + [f"{a}/{f}" for a in ("itn", "gan") for f in _FAMILIES]
    unknown = [k for k in settings if k not in allowed]
    if unknown:
        raise ValueError(f"unknown settings keys {unknown}; use an attack ({list(ATTACKS)}) or "
                         f"'itn/<family>' / 'gan/<family>' with a family from {list(_FAMILIES)}")
    for k, v in settings.items():
        if not isinstance(v, Mapping):
            raise TypeError(f"settings[{k!r}] must be a mapping of keyword arguments, got {v!r}")
    return {k: dict(v) for k, v in settings.items()}


def _gan_halves(train: torch.Tensor, seed: int, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of T1 (to be encrypted) and the plain images of T2, disjoint (see :func:`halves`)."""
    rows = torch.arange(train.shape[0])
    t1_rows, t2_rows = halves(rows, seed=seed, fraction=fraction)
    return t1_rows.to(train.device), train[t2_rows.to(train.device)]
# ------------------------------------------------------------------------------------ scores


def reference_scores(data: AttackData) -> pd.DataFrame:
    """SSIM and PSNR to the test images of guesses that know nothing about them.

    ``mid-grey image`` (every sample 128) and ``mean training image`` (the pixel-wise mean of the
    training images, rounded): an attack whose reconstructions score no better has recovered
    nothing that SSIM can see. (SSIM rewards a flat guess on flat regions, so these are well
    above 0.)
    """
    test = data.test
    grey = torch.full_like(test, 128)
    mean = data.train.double().mean(0).round().to(torch.uint8).expand_as(test).to(test.device)
    rows = []
    for label, guess in (("mid-grey image", grey), ("mean training image", mean)):
        ssim, psnr = _scores(guess, test)
        rows.append({"guess": label, "ssim": ssim, "psnr": psnr})
    return pd.DataFrame(rows).set_index("guess")


def cipher_scores(plain: torch.Tensor, encrypted: Mapping[str, torch.Tensor]) -> pd.Series:
    """Mean SSIM of each scheme's encrypted images (``name -> tensor``) to the plain ones (no attack at all)."""
    return pd.Series({name: _scores(images, plain)[0] for name, images in encrypted.items()}, name="cipher")


def table1(grid: AttackGrid, cipher: pd.Series | None = None) -> pd.DataFrame:
    """Our mean SSIM per scheme and attack beside the paper's Table 1 (NaN where the paper has none).

    Columns are ``(attack label, "ours" | "paper")``; ``cipher`` (from :func:`cipher_scores`)
    adds the SSIM of the raw encrypted images as a first column.
    """
    ours = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    order = [s for s in SCHEMES if s in ours.index]
    ours = ours.loc[order, [a for a in ATTACKS if a in ours.columns]]
    paper = paper_table1().reindex(order)
    columns = {}
    if cipher is not None:
        columns[("encrypted image", "ours")] = cipher.reindex(order)
    for attack in ours.columns:
        columns[(ATTACK_LABELS[attack], "ours")] = ours[attack]
        columns[(ATTACK_LABELS[attack], "paper")] = paper[attack]
    table = pd.DataFrame(columns)
    table.index = [SCHEME_LABELS[s] for s in order]
    return table


def robustness(grid: AttackGrid, threshold: float) -> pd.DataFrame:
    """True where the scheme resisted the attack: its reconstructions' mean SSIM is below ``threshold``."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    ours = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    order = [s for s in SCHEMES if s in ours.index]
    return ours.loc[order, [a for a in ATTACKS if a in ours.columns]] < threshold


def table2(grid: AttackGrid, threshold: float) -> pd.DataFrame:
    """Table 2's attack columns derived from our SSIM (○ robust if below ``threshold``, else ×) beside
    the paper's marks, with ``agree`` counting the matching cells of each scheme."""
    ours = robustness(grid, threshold)
    paper = pd.DataFrame.from_dict(_PAPER_ROBUST, orient="index", columns=list(ATTACKS))
    columns, agree = {}, pd.Series(0, index=ours.index)
    for attack in ours.columns:
        columns[(ATTACK_LABELS[attack], "ours")] = ours[attack].map(_mark)
        mine = paper[attack].reindex(ours.index)
        columns[(ATTACK_LABELS[attack], "paper")] = mine.map(lambda v: "" if pd.isna(v) else _mark(bool(v)))
        agree += (mine == ours[attack]).astype(int)
    table = pd.DataFrame(columns)
    in_paper = ours.index.isin(list(_PAPER_ROBUST))
    table[("agree", "")] = [f"{a}/{len(ours.columns)}" if p else "" for a, p in zip(agree, in_paper)]
    table.index = [SCHEME_LABELS[s] for s in ours.index]
    return table


def claims_check(grid: AttackGrid, threshold: float) -> pd.DataFrame:
    """The paper's text conclusions, each checked against our numbers: claim, our evidence, holds?

    A scheme is "broken" by an attack when the mean SSIM is at least ``threshold``. Claims whose
    schemes or attacks were not run are left out.
    """
    ssim = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    broken = ~robustness(grid, threshold)

    def have(schemes: Sequence[str], attacks: Sequence[str]) -> bool:
        return all(s in ssim.index for s in schemes) and all(a in ssim.columns for a in attacks)

    def values(schemes: Sequence[str], attack: str) -> str:
        return ", ".join(f"{SCHEME_LABELS[s]} {ssim.loc[s, attack]:.3f}" for s in schemes)

    rows = []
    pixel = ["pixelwise_same", "pixelwise_different"]
    if have(pixel + ["tanaka"], ["fr"]):
        rows.append(("FR-Attack recovers pixel-wise images (SSIM clearly above Tanaka's)",
                     values(pixel + ["tanaka"], "fr"),
                     bool(min(ssim.loc[pixel, "fr"]) > ssim.loc["tanaka", "fr"] and broken.loc[pixel, "fr"].all())))
    five = list(_PAPER_SSIM)
    if have(five, ["fr"]):
        lowest = ssim.loc[five, "fr"].idxmin()
        rows.append(("TN-model has the lowest FR-Attack SSIM", f"lowest: {SCHEME_LABELS[lowest]}",
                     lowest == "tn_model"))
    if have(pixel + ["tanaka", "tn_model", "tn_gan"], ["gan"]):
        weak, strong = pixel + ["tanaka"], ["tn_model", "tn_gan"]
        rows.append(("GAN-Attack breaks pixel-wise and Tanaka, not TN-model / TN-GAN",
                     values(weak + strong, "gan"),
                     bool(broken.loc[weak, "gan"].all() and not broken.loc[strong, "gan"].any())))
    if have(five, ["itn"]):
        resist = ["pixelwise_different", "tn_model"]
        rest = [s for s in five if s not in resist]
        rows.append(("ITN-Attack breaks all but pixel-wise (different keys) and TN-model", values(five, "itn"),
                     bool(broken.loc[rest, "itn"].all() and not broken.loc[resist, "itn"].any())))
    if have(pixel, ["itn"]):
        rows.append(("ITN-Attack does better on same-key than on different-key pixel-wise images",
                     values(pixel, "itn"), bool(ssim.loc[pixel[0], "itn"] > ssim.loc[pixel[1], "itn"])))
    return pd.DataFrame(rows, columns=["claim (paper)", "our SSIM", "holds here"])


# ------------------------------------------------------------------------------------ key spaces

MASTER_KEY_BITS = 256
"""Every key here is derived from one 256-bit ChaCha20 key, which bounds what brute force must try."""

_YEAR_LOG2 = math.log2(1e12 * 365.25 * 24 * 3600)  # keys tried in a year at 10^12 keys per second


def keyspace_table(shape: Sequence[int] = (3, 96, 96), etc_block: int = 16) -> pd.DataFrame:
    """log2 of each scheme's key space for one image of ``shape`` ``(C, H, W)``.

    Columns: the formula, ``log2 keys``, whether it grows with the image, ``log10 years`` to try
    every key at 10^12 keys per second, and ``effective bits`` — the smaller of the formula and
    :data:`MASTER_KEY_BITS` (our keys are expanded from a 256-bit key; the papers count the
    expanded key as if drawn uniformly).
    """
    c, h, w = (int(s) for s in shape[-3:])
    pixels = h * w
    etc = EtCEncryption(block=etc_block)
    rows = [
        ("pixelwise_same", "2^{Cn} · (C!)^n, n = H·W pixels", keyspace.pixelwise_log2(pixels, c), True),
        ("pixelwise_different", "one such key per image", keyspace.pixelwise_log2(pixels, c), True),
        ("tanaka", "D! · 2^D, D = 2·16·C nibbles", keyspace.tanaka_log2(4, c), False),
        ("tn_model", "no key (the network's weights are the secret)", 0.0, False),
        ("tn_gan", "no key (the network's weights are the secret)", 0.0, False),
        ("etc", f"m! · (8·2·C!)^m, m = {etc.n_blocks((c, h, w))} blocks of {etc_block}²",
         etc.key_space_log2((c, h, w)), True),
    ]
    table = pd.DataFrame(rows, columns=["scheme", "formula", "log2 keys", "grows with the image"])
    keyed = table["log2 keys"] > 0
    table["log10 years at 10^12 keys/s"] = np.where(keyed, (table["log2 keys"] - _YEAR_LOG2) * math.log10(2), np.nan)
    table["effective bits"] = np.where(keyed, np.minimum(table["log2 keys"], MASTER_KEY_BITS), 0.0)
    table["scheme"] = table["scheme"].map(SCHEME_LABELS)
    return table.set_index("scheme")


def keyspace_curves(max_pixels: int = 96 * 96, channels: int = 3, etc_block: int = 16,
                    points: int = 200) -> tuple[pd.DataFrame, dict[str, float]]:
    """Key-space size against the number of pixels n (log-spaced from 1 to ``max_pixels``, or to twice
    the farther crossing if that is larger), and the crossings.

    Returns a long table (``pixels``, ``scheme``, ``log2 keys``; EtC only where n is a whole
    number of blocks or more) and the pixel counts where the pixel-wise and EtC key spaces
    overtake Tanaka's (which does not depend on the image size).
    """
    tanaka = keyspace.tanaka_log2(4, channels)
    area = etc_block * etc_block
    crossings = {
        "pixel-wise = Tanaka": keyspace.crossover(lambda n: keyspace.pixelwise_log2(n, channels), tanaka),
        "EtC = Tanaka": keyspace.crossover(lambda b: keyspace.etc_log2(b, channels), tanaka) * area,
    }
    pixels = np.unique(np.geomspace(1, max(max_pixels, 2 * max(crossings.values())), points))
    rows = []
    for n in pixels:
        rows.append((n, SCHEME_LABELS["pixelwise_same"], keyspace.pixelwise_log2(float(n), channels)))
        rows.append((n, SCHEME_LABELS["tanaka"], tanaka))
        if n >= area:
            rows.append((n, SCHEME_LABELS["etc"], keyspace.etc_log2(n / area, channels)))
    return pd.DataFrame(rows, columns=["pixels", "scheme", "log2 keys"]), crossings


# ------------------------------------------------------------------------------------ statistics


def scheme_statistics(plain: torch.Tensor, encrypted: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Classic cipher-image statistics, means over the images, one row per scheme (and the plain images).

    ``NPCR %`` and ``UACI %`` between each encrypted image and its plain image (a uniform random
    image would give 99.61 % and 33.46 % against any fixed image only on average — see
    :func:`imgleak.metrics.expected_npcr_uaci`), Shannon ``entropy`` (bits, 8 at most) and the
    adjacent-pixel correlation in three directions (near 1 for natural images).
    """
    rows = []
    for label, images in {"plain images": plain, **{SCHEME_LABELS.get(k, k): v for k, v in encrypted.items()}}.items():
        if images.shape != plain.shape:
            raise ValueError(f"encrypted images of {label!r} are shaped {tuple(images.shape)}, "
                             f"not like the plain images {tuple(plain.shape)}")
        row = {"scheme": label, "NPCR %": float(metrics.npcr(images, plain).mean()),
               "UACI %": float(metrics.uaci(images, plain).mean()),
               "entropy (bits)": float(metrics.shannon_entropy(images).mean())}
        for direction in metrics.DIRECTIONS:
            row[f"corr. {direction}"] = float(np.nanmean(metrics.adjacent_correlation(images, direction).cpu().numpy()))
        rows.append(row)
    return pd.DataFrame(rows).set_index("scheme")


# ------------------------------------------------------------------------------------ discussion


def _labels(names: Sequence[str]) -> str:
    return ", ".join(SCHEME_LABELS[n] for n in names)


def discussion(grid: AttackGrid, threshold: float, references: pd.DataFrame, data: AttackData) -> str:
    """A Markdown paragraph list comparing this run with the paper, written from the numbers.

    It names every cell of Table 1 where ours differs from the paper's by more than 0.15, lists
    where a trained attack did not beat a flat mid-grey guess by 0.03 — as the paper predicts
    (its ○), or where the paper breaks the scheme (then the training was too short to conclude:
    that is not robustness) — and compares same-key with different-key ITN-Attacks.
    """
    ssim = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    grey = float(references.loc["mid-grey image", "ssim"])
    notes = []
    if data.name != "stl10":
        size = "×".join(str(int(s)) for s in data.test.shape[-2:])
        notes.append(f"Our data are {data.train.shape[0]} training and {data.test.shape[0]} test crops of {size} pixels "
                     f"from {len(data.classes)} photos, not STL-10, so no number here should match the paper's to the "
                     "digit; what can match is the ordering of schemes and attacks.")
    far = []
    for name in ssim.index:
        for attack in ssim.columns:
            paper = _PAPER_SSIM.get(name, (None,) * 3)[ATTACKS.index(attack)]
            if paper is not None and abs(ssim.loc[name, attack] - paper) > 0.15:
                far.append(f"{ATTACK_LABELS[attack]} on {SCHEME_LABELS[name]}: ours {ssim.loc[name, attack]:.2f}, "
                           f"paper {paper:.2f}")
    if far:
        notes.append("Differences from Table 1 larger than 0.15: " + "; ".join(far) + ".")
    else:
        notes.append("Every cell of Table 1 that we ran is within 0.15 of the paper's.")
    for attack in ("itn", "gan"):
        if attack not in ssim.columns:
            continue
        flat = [n for n in ssim.index if ssim.loc[n, attack] < grey + 0.03]
        marks = {n: _PAPER_ROBUST[n][ATTACKS.index(attack)] for n in flat if n in _PAPER_ROBUST}
        expected = [n for n in flat if marks.get(n) is True]  # the paper calls the scheme robust to it
        unexpected = [n for n in flat if marks.get(n) is False]  # the paper breaks it
        ours_only = [n for n in flat if n not in marks]
        epochs = "/".join(map(str, sorted({len(grid.curves.get((n, attack), [])) for n in flat})))
        did_not = f"did not beat the mid-grey guess ({grey:.2f}) by 0.03 after {epochs} epoch(s)"
        if expected:
            notes.append(f"{ATTACK_LABELS[attack]} {did_not} on {_labels(expected)}, as the paper's ○ predicts.")
        if unexpected:
            paper_epochs = "100 epochs on 2,500 + 2,500 images" if attack == "gan" else "70–300 epochs on 5,000 pairs"
            notes.append(
                f"{ATTACK_LABELS[attack]} {did_not} on {_labels(unexpected)}, which the paper breaks "
                f"({paper_epochs}): at this budget that says the training was too short to conclude, not that "
                "these schemes resist it.")
        if ours_only:
            notes.append(f"{ATTACK_LABELS[attack]} {did_not} on {_labels(ours_only)} (not in the paper).")
    if "itn" in ssim.columns and {"pixelwise_same", "pixelwise_different"} <= set(ssim.index):
        same, diff = ssim.loc["pixelwise_same", "itn"], ssim.loc["pixelwise_different", "itn"]
        verdict = "as the paper finds" if same > diff else "unlike the paper"
        notes.append(f"ITN-Attack on pixel-wise encryption: same key {same:.2f}, different keys {diff:.2f} — {verdict}: "
                     "one key per image leaves the per-position network nothing consistent to invert.")
    if "fr" in ssim.columns and "pixelwise_different" in ssim.index:
        notes.append(f"FR-Attack needs no training and no key; on pixel-wise encryption it reaches "
                     f"{ssim.loc['pixelwise_different', 'fr']:.2f} whatever the key mode, which is why the paper calls "
                     "pixel-wise encryption non-robust to it even with different keys.")
    notes.append(f"The marks of Table 2 use the threshold {threshold:.3f}; move it (parameter `threshold`) and "
                 "the marks move with it: the SSIM values above are the measurement, the marks an interpretation.")
    return "\n".join(f"- {n}" for n in notes)
