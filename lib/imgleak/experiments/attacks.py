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
- :func:`table1`, :func:`table2`: our SSIM table beside the paper's (its numbers are data:
  :mod:`imgleak.experiments.paper_values`), and the robustness marks derived from ours with an
  explicit threshold; :func:`claims_check` and :func:`findings`: the paper's claims checked
  against this run, as data the chapter phrases;
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

from .. import _checks, ciphers, metrics
from ..attacks.datasets import CROP_SIZE, AttackData, halves, load_stl10, photo_crops
from ..attacks.feature_reconstruction import feature_reconstruction
from ..attacks.gan import train_gan_attack
from ..attacks.inverse_network import AttackResult, reconstruct, scheme_networks, train_inverse_network
from ..ciphers import KeyedCipher, Variant
from ..ciphers.keyspace import check_shape, crossover, etc_log2, pixelwise_log2, tanaka_log2
from ..keys import Key
from ..training.transform_nets import TransformTrainingResult, train_key
from . import paper_values
from .findings import Finding


def _chapter_variants() -> dict[str, Variant]:
    """The variants with a row in the papers' tables, by that row name: the paper's Table 1 rows in its
    order, then ours (EtC)."""
    rows = {v.paper_row: v for v in ciphers.VARIANTS if v.paper_row is not None}
    order = [r for r in paper_values.table("attacks_ssim").index if r in rows]
    return {r: rows[r] for r in order + [r for r in rows if r not in order]}


_VARIANTS = _chapter_variants()

SCHEME_LABELS: dict[str, str] = {row: variant.label for row, variant in _VARIANTS.items()}
"""The chapter's scheme names (the rows of the papers' tables, :data:`imgleak.ciphers.library.VARIANTS`
``paper_row``) and their labels: ``pixelwise_same``, ``pixelwise_different``, ``tanaka``, ``tn_model``,
``tn_gan``, then ``etc`` (our addition: not in the paper's tables)."""

SCHEMES: tuple[str, ...] = tuple(SCHEME_LABELS)
"""The names :func:`build_schemes` accepts."""

ATTACKS: tuple[str, ...] = ("fr", "itn", "gan")
"""FR-Attack (feature reconstruction), ITN-Attack (inverse network on known pairs), GAN-Attack."""

ATTACK_LABELS: dict[str, str] = {"fr": "FR-Attack", "itn": "ITN-Attack", "gan": "GAN-Attack"}

TEST_OFFSET = 1_000_000
"""Index of the first test image for per-image keys (training images are 0, 1, …)."""

def paper_table1() -> pd.DataFrame:
    """The paper's Table 1 (mean SSIM, STL-10): one row per scheme, one column per attack."""
    return paper_values.table("attacks_ssim")


def paper_robustness() -> pd.DataFrame:
    """The attack columns of the paper's Table 2: True where it calls the scheme robust (○)."""
    return paper_values.table("attacks_robustness")


def paper_table2() -> pd.DataFrame:
    """The paper's Table 2: ○ (robust / available) or × per attack, and the usage columns."""
    return paper_robustness().map(_mark).join(paper_values.table("attacks_use"))


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


# ------------------------------------------------------------------------------------ schemes


@dataclass
class BuiltSchemes:
    """The chapter's schemes, each a registered cipher bound to its key (:class:`~imgleak.ciphers.base.KeyedCipher`,
    labelled with the paper's row label), and how the transformation networks were trained."""

    schemes: dict[str, KeyedCipher]
    training: dict[str, TransformTrainingResult] = field(default_factory=dict, repr=False)


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
) -> BuiltSchemes:
    """The schemes called ``names``, keyed from ``key`` (default ``Key.from_seed(seed)``).

    The TN-model is trained on the training images with their labels (photo crops: the source
    photo), checked on ``data.val`` when present; the TN-GAN on the training images (its
    protected domain: pixel-wise encryption with different keys of a disjoint half); the trained
    network is their key. ``tn_model`` / ``tn_gan``: extra arguments for the training functions
    (:mod:`imgleak.training`). With ``save_dir``, each trained network is written there as
    ``<name>-seed<seed>.pt`` (an existing file is never overwritten: ``-2``, ``-3``, … is
    appended) and the path kept in ``training[name].settings["saved_to"]``.
    """
    names = _checks.names(names, "schemes", SCHEMES)
    key = Key.from_seed(seed) if key is None else key
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key or None, got {type(key).__name__}")
    common = {"seed": seed, "device": device, "num_threads": num_threads, "progress": progress}
    training = {"tn_model": tn_model, "tn_gan": tn_gan}  # by registered cipher name
    built = BuiltSchemes({})
    for name in names:
        cipher = _chapter_cipher(name, etc_block)
        if not cipher.learned_key:
            built.schemes[name] = KeyedCipher(cipher, key.derive(f"attacks/{name}"), SCHEME_LABELS[name])
            continue
        result = train_key(cipher.name, data.train, data.train_labels, eval_images=data.val, eval_labels=data.val_labels,
                           **{**common, **dict(training.get(cipher.name) or {})})
        built.schemes[name] = KeyedCipher(result.cipher, result.key, SCHEME_LABELS[name])
        built.training[name] = result
        if save_dir is not None:
            path = _free_path(Path(save_dir), f"{name}-seed{seed}")
            result.settings["saved_to"] = str(result.key.save(path))
    return built


def _chapter_cipher(name: str, etc_block: int) -> ciphers.Cipher:
    """The cipher of the chapter's scheme ``name``, its variant's parameters with the chapter's EtC block
    side (``etc_block``, the chapter's parameter) for EtC."""
    variant = _VARIANTS[name]
    return ciphers.get(variant.cipher, **{**variant.params, **({"block": etc_block} if name == "etc" else {})})


def _free_path(folder: Path, stem: str) -> Path:
    """``folder/stem.pt``, or ``stem-2.pt``, ``stem-3.pt``, … whichever does not exist yet (folder created)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, k = folder / f"{stem}.pt", 1
    while path.exists():
        k += 1
        path = folder / f"{stem}-{k}.pt"
    return path


def encrypt_splits(schemes: Mapping[str, KeyedCipher], data: AttackData) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
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
    schemes: Mapping[str, KeyedCipher],
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
    attacks = _checks.names(attacks, "attacks", ATTACKS)
    settings = _settings(settings)
    if not schemes:
        raise ValueError("schemes must hold at least one scheme (see build_schemes)")
    show = max(1, min(_checks.non_negative_int(show, "show"), int(data.test.shape[0])))
    common = {"seed": seed, "device": device, "num_threads": num_threads, "progress": False}
    if "gan" in attacks:
        t1_rows, t2 = _gan_halves(data.train, seed, gan_fraction)
    encrypted = encrypt_splits(schemes, data)
    rows, recs, curves, results = [], {}, {}, {}
    bar = tqdm([(s, a) for s in schemes for a in attacks], desc="attacks", disable=not progress)
    for name, attack in bar:
        bar.set_postfix_str(f"{attack} on {name}")
        family = schemes[name].cipher.name  # the registered name picks the attack networks shaped for it
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
    shown = {name: test_c[:show].cpu() for name, (_, test_c) in encrypted.items()}
    return AttackGrid(pd.DataFrame(rows), recs, shown, data.test[:show].cpu(), curves, results)


def _settings(settings: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Check the keys of :func:`run_attacks`' ``settings`` (``attack`` or ``attack/family``)."""
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping like {{'itn': {{'epochs': 4}}}}, got {type(settings).__name__}")
    families = list(scheme_networks("itn"))  # the registered schemes the attack networks are shaped for
    allowed = list(ATTACKS) + [f"{a}/{f}" for a in ("itn", "gan") for f in families]
    unknown = [k for k in settings if k not in allowed]
    if unknown:
        raise ValueError(f"unknown settings keys {unknown}; use an attack ({list(ATTACKS)}) or "
                         f"'itn/<family>' / 'gan/<family>' with a family from {families}")
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
    threshold = _checks.number(threshold, "threshold", allow_negative=True)
    ours = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    order = [s for s in SCHEMES if s in ours.index]
    return ours.loc[order, [a for a in ATTACKS if a in ours.columns]] < threshold


def table2(grid: AttackGrid, threshold: float) -> pd.DataFrame:
    """Table 2's attack columns derived from our SSIM (○ robust if below ``threshold``, else ×) beside
    the paper's marks, with ``agree`` counting the matching cells of each scheme."""
    ours = robustness(grid, threshold)
    paper = paper_robustness()
    columns, agree = {}, pd.Series(0, index=ours.index)
    for attack in ours.columns:
        columns[(ATTACK_LABELS[attack], "ours")] = ours[attack].map(_mark)
        mine = paper[attack].reindex(ours.index)
        columns[(ATTACK_LABELS[attack], "paper")] = mine.map(lambda v: "" if pd.isna(v) else _mark(bool(v)))
        agree += (mine == ours[attack]).astype(int)
    table = pd.DataFrame(columns)
    in_paper = ours.index.isin(list(paper.index))
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
    five = list(paper_table1().index)
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
    """log2 of each scheme's key space for one image of ``shape`` ``(C, H, W)``, from its cipher.

    Columns: the cipher's description, ``log2 keys`` (its ``key_space_log2``), whether it grows
    with the image, ``log10 years`` to try every key at 10^12 keys per second, and ``effective
    bits`` — the smaller of the two and :data:`MASTER_KEY_BITS` (our keys are expanded from a
    256-bit key; the papers count the expanded key as if drawn uniformly). The transformation
    networks have no enumerable key (0 bits: their weights are the secret).
    """
    c, h, w = check_shape(shape)[-3:]
    rows = []
    for name in SCHEMES:
        cipher = _chapter_cipher(name, etc_block)
        bits = cipher.key_space_log2((c, h, w))
        grows = bits > 0 and cipher.key_space_log2((c, 2 * h, 2 * w)) > bits
        rows.append((SCHEME_LABELS[name], cipher.describe(), bits, grows))
    table = pd.DataFrame(rows, columns=["scheme", "cipher", "log2 keys", "grows with the image"])
    keyed = table["log2 keys"] > 0
    table["log10 years at 10^12 keys/s"] = np.where(keyed, (table["log2 keys"] - _YEAR_LOG2) * math.log10(2), np.nan)
    table["effective bits"] = np.where(keyed, np.minimum(table["log2 keys"], MASTER_KEY_BITS), 0.0)
    return table.set_index("scheme")


def keyspace_curves(max_pixels: int = 96 * 96, channels: int = 3, etc_block: int = 16,
                    points: int = 200) -> tuple[pd.DataFrame, dict[str, float]]:
    """Key-space size against the number of pixels n (log-spaced from 1 to ``max_pixels``, or to twice
    the farther crossing if that is larger), and the crossings.

    Returns a long table (``pixels``, ``scheme``, ``log2 keys``; EtC only where n is a whole
    number of blocks or more) and the pixel counts where the pixel-wise and EtC key spaces
    overtake Tanaka's (which does not depend on the image size).
    """
    tanaka = tanaka_log2(4, channels)
    area = etc_block * etc_block
    crossings = {
        "pixel-wise = Tanaka": crossover(lambda n: pixelwise_log2(n, channels), tanaka),
        "EtC = Tanaka": crossover(lambda b: etc_log2(b, channels), tanaka) * area,
    }
    pixels = np.unique(np.geomspace(1, max(max_pixels, 2 * max(crossings.values())), points))
    rows = []
    for n in pixels:
        rows.append((n, SCHEME_LABELS["pixelwise_same"], pixelwise_log2(float(n), channels)))
        rows.append((n, SCHEME_LABELS["tanaka"], tanaka))
        if n >= area:
            rows.append((n, SCHEME_LABELS["etc"], etc_log2(n / area, channels)))
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


# ------------------------------------------------------------------------------------ findings

TABLE1_TOLERANCE = 0.15
"""A cell of our Table 1 farther than this from the paper's is a ``"table 1"`` finding."""

GREY_MARGIN = 0.03
"""A trained attack must beat the mid-grey guess's SSIM by this much, or it is a ``"flat"`` finding."""


def findings(grid: AttackGrid, threshold: float, references: pd.DataFrame, data: AttackData) -> list[Finding]:
    """This run beside the paper, as :class:`~imgleak.experiments.findings.Finding` s for the chapter to phrase.

    In this order (``numbers`` in brackets; schemes and attacks by name):

    - ``"data"``, only off STL-10 [``train``, ``test``: image counts; ``size``: (H, W); ``photos``];
    - ``"table 1"`` [``tolerance``; ``far``: the cells ``(scheme, attack, ours, paper)`` farther than
      :data:`TABLE1_TOLERANCE` from the paper's]; holds when there is none;
    - ``"flat"``, per trained attack and verdict of the paper [``attack``; ``schemes`` whose
      reconstructions did not beat the mid-grey guess (SSIM ``grey``, from ``references``) by
      ``margin``; ``epochs``: the epoch counts of that attack's flat runs; ``paper``: ``"robust"``
      (holds: the paper's ○), ``"broken"`` (does not hold: at this budget, too short to conclude)
      or ``None`` (scheme not in the paper; holds is ``None``)];
    - ``"itn key mode"`` [``same``, ``different``: ITN-Attack on pixel-wise encryption]; holds
      when same > different, as in the paper;
    - ``"fr key mode"`` [``ssim``: FR-Attack on pixel-wise encryption with different keys];
    - ``"threshold"`` [``threshold``: the one the marks of :func:`table2` use].
    """
    threshold = _checks.number(threshold, "threshold", allow_negative=True)
    ssim = grid.table.pivot(index="scheme", columns="attack", values="ssim")
    grey = float(references.loc["mid-grey image", "ssim"])
    out = [] if data.name == "stl10" else [Finding("data", {
        "train": data.train.shape[0], "test": data.test.shape[0], "photos": len(data.classes),
        "size": tuple(int(s) for s in data.test.shape[-2:])})]
    out.append(_table1_finding(ssim))
    for attack in ("itn", "gan"):
        if attack in ssim.columns:
            out += _flat_findings(grid, ssim[attack], attack, grey)
    pixel = ["pixelwise_same", "pixelwise_different"]
    if "itn" in ssim.columns and set(pixel) <= set(ssim.index):
        same, different = (float(ssim.loc[s, "itn"]) for s in pixel)
        out.append(Finding("itn key mode", {"same": same, "different": different}, holds=same > different))
    if "fr" in ssim.columns and "pixelwise_different" in ssim.index:
        out.append(Finding("fr key mode", {"ssim": float(ssim.loc["pixelwise_different", "fr"])}))
    out.append(Finding("threshold", {"threshold": threshold}))
    return out


def _table1_finding(ssim: pd.DataFrame) -> Finding:
    """The cells of our SSIM table farther than :data:`TABLE1_TOLERANCE` from the paper's Table 1."""
    paper = paper_table1()
    far = tuple((name, attack, float(ssim.loc[name, attack]), float(paper.loc[name, attack]))
                for name in ssim.index for attack in ssim.columns
                if name in paper.index and abs(ssim.loc[name, attack] - paper.loc[name, attack]) > TABLE1_TOLERANCE)
    return Finding("table 1", {"tolerance": TABLE1_TOLERANCE, "far": far}, holds=not far)


def _flat_findings(grid: AttackGrid, ssim: pd.Series, attack: str, grey: float) -> list[Finding]:
    """The schemes ``attack`` did not beat the grey guess on, grouped by the paper's verdict."""
    flat = [name for name in ssim.index if ssim[name] < grey + GREY_MARGIN]
    robust = paper_robustness()[attack]
    verdict = {name: ("robust" if bool(robust[name]) else "broken") if name in robust.index else None for name in flat}
    epochs = tuple(sorted({len(grid.curves.get((name, attack), [])) for name in flat}))
    holds = {"robust": True, "broken": False, None: None}
    return [Finding("flat", {"attack": attack, "schemes": tuple(n for n in flat if verdict[n] == paper), "grey": grey,
                             "margin": GREY_MARGIN, "epochs": epochs, "paper": paper}, holds=holds[paper])
            for paper in ("robust", "broken", None) if paper in verdict.values()]
