"""The information criteria of the scorecard: how much of the plain image the cipher image carries.

- :func:`histogram_mi` — plug-in mutual information (bits) between co-located plain and cipher
  pixel values, pooled over the run's images, and the same less what independent pixels with
  these histograms would give (its bias at this sample count);
- :func:`mine_pixels` — MINE (held-out, bits) on co-located plain / cipher pixel patches;
- :func:`mine_embeddings` — MINE on embeddings of plain and cipher crops by one frozen encoder
  (ResNet-18: its ImageNet weights where they can be had, else a random-init one, labelled so);
- :func:`information_loss` — the RVT paper's information loss rate ΔM / M(I) for schemes that
  only move pixels (:class:`~imgleak.ciphers.base.PixelMover`); NaN with a note for the others.

Each cell keys its subject with ``subject.key(context.seed, context)``; every size comes from
``context.budget``. MI measurements leak more when ``higher``; the loss rate when ``lower``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from ..ciphers import PixelMover
from ..images import colocated_patches
from ..information import information_loss_rate
from ..mi import entropy, estimate_mi_many, mutual_information
from ..mi.encoders import Encoder, WeightsUnavailableError, load_encoder
from .attacks import crops_from_sources
from .base import Context, Criterion, Measurement, Subject, check_cell

NULL_SHUFFLES = 5
"""Random re-pairings of the cipher pixels whose mean MI is the independence baseline of
:func:`histogram_mi` (its spread over re-pairings is a few hundredths of a bit at the quick budget)."""

ENCODER = "resnet18"
"""The one frozen encoder of :func:`mine_embeddings` (torchvision ResNet-18, 512-d features)."""

LEVELS = 256
"""Histogram bins: every 8-bit value."""


def _encrypt(subject: Subject, context: Context, images: torch.Tensor) -> torch.Tensor:
    """``images`` (a data set of its own: indices from 0) encrypted with the subject's key for the seed."""
    key = subject.key(context.seed, context)
    return subject.cipher.encrypt(images, key, first_index=0)


def independent_mi(x: torch.Tensor, y: torch.Tensor, shuffles: int, seed: int) -> float:
    """Mean plug-in MI (bits) of ``x`` with ``shuffles`` seeded random re-pairings of ``y``'s values:
    what independent samples with these histograms give (the plug-in estimate's bias).

    >>> x = torch.arange(4, dtype=torch.uint8).repeat(64)
    >>> mutual_information(x, x), independent_mi(x, x, 3, seed=0) < 0.1  # 2 bits; re-paired: nearly none
    (2.0, True)
    """
    generator = torch.Generator().manual_seed(seed)
    flat = y.reshape(-1)
    values = [mutual_information(x, flat[torch.randperm(flat.numel(), generator=generator).to(flat.device)],
                                 bins=LEVELS) for _ in range(shuffles)]
    return sum(values) / len(values)


def histogram_mi(subject: Subject, context: Context) -> list[Measurement]:
    """Plug-in MI (bits) between co-located plain and cipher pixels of ``context.images``.

    Two rows: ``histogram_mi`` (the plug-in value; ``identity`` gives H(plain) exactly, an upper
    bound of every scheme's) and ``histogram_mi_excess`` (less the mean over
    :data:`NULL_SHUFFLES` re-pairings of the cipher pixels, so an independent cipher gives
    about 0 whatever the sample count).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS, Context, Subject
    >>> images = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)  # 8 bits of entropy
    >>> rows = histogram_mi(Subject("identity", ciphers.get("identity")), Context(images, 0, BUDGETS["quick"]))
    >>> [(m.criterion, round(m.value, 6)) for m in rows][0], rows[1].value < 8
    (('histogram_mi', 8.0), True)
    """
    subject, context = check_cell(subject, context)
    plain = context.images
    cipher = _encrypt(subject, context, plain)
    mi = mutual_information(plain, cipher, bins=LEVELS)
    null = independent_mi(plain, cipher, NULL_SHUFFLES, context.seed)
    setting = {"images": int(plain.shape[0]), "samples": int(plain.numel()), "bins": LEVELS,
               "plain_entropy_bits": entropy(plain, bins=LEVELS), "independent_mi_bits": null,
               "null_shuffles": NULL_SHUFFLES}
    return [Measurement("histogram_mi", mi, "bits", "higher", setting),
            Measurement("histogram_mi_excess", mi - null, "bits", "higher", setting)]


def _mine(x: torch.Tensor, y: torch.Tensor, context: Context) -> tuple[float, dict[str, Any]]:
    """MINE's held-out estimate (bits) on paired rows, seeded, ``budget.mine_epochs`` epochs; a run
    that diverges is a result, not a failed cell: NaN, with ``diverged`` (the message) in the setting."""
    result = estimate_mi_many([(x.flatten(1), y.flatten(1))], epochs=context.budget.mine_epochs, seeds=context.seed,
                              device=context.device, progress=False)[0]
    keep = ("objective", "epochs", "effective_batch_size", "hidden", "layers", "lr", "n_train", "n_test")
    setting = {k: result.settings[k] for k in keep if k in result.settings}
    if result.diverged is not None:
        setting["note"] = f"diverged: {result.diverged}"
    return result.mi_bits, setting


def mine_pixels(subject: Subject, context: Context) -> list[Measurement]:
    """MINE on ``budget.mine_pairs`` co-located plain / cipher patches of side ``budget.patch``.

    The patches are cut at the same seeded positions from every image of ``context.images``
    and from its cipher image (:func:`imgleak.images.colocated_patches`), as many per image as
    the pairs need; the held-out estimate in bits.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS, Context, Subject
    >>> images = torch.randint(0, 256, (2, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    >>> (row,) = mine_pixels(Subject("identity", ciphers.get("identity")), Context(images, 0, BUDGETS["quick"]))
    >>> row.criterion, row.unit, row.setting["pairs"], row.setting["patch"]
    ('mine_pixels', 'bits', 512, 8)
    """
    subject, context = check_cell(subject, context)
    budget, plain = context.budget, context.images
    side = min(int(plain.shape[-2]), int(plain.shape[-1]))
    if budget.patch > side:
        raise ValueError(f"budget.patch ({budget.patch}) does not fit in the {side}-pixel images of the run")
    per_image = math.ceil(budget.mine_pairs / plain.shape[0])
    x, y = colocated_patches(plain, _encrypt(subject, context, plain), budget.patch, per_image, context.seed)
    x, y = x.flatten(0, 1)[: budget.mine_pairs], y.flatten(0, 1)[: budget.mine_pairs]
    value, mine = _mine(x, y, context)
    setting = {"pairs": int(x.shape[0]), "patch": budget.patch, "images": int(plain.shape[0]), "mine": mine,
               **({"note": mine["note"]} if "note" in mine else {})}
    return [Measurement("mine_pixels", value, "bits", "higher", setting)]


@functools.lru_cache(maxsize=4)
def frozen_encoder(device: torch.device) -> tuple[Encoder, str]:
    """The encoder of :func:`mine_embeddings` on ``device`` and its label: pretrained ResNet-18
    where its weights can be had, else the random-init one (loaded once per process and device).

    >>> _, label = frozen_encoder(torch.device("cpu"))
    >>> label in ("resnet18 (pretrained: ImageNet)", "resnet18 (random-init: no weights here)")
    True
    """
    try:
        return load_encoder(ENCODER, pretrained=True, device=device), f"{ENCODER} (pretrained: ImageNet)"
    except WeightsUnavailableError:
        return load_encoder(ENCODER, pretrained=False, device=device), f"{ENCODER} (random-init: no weights here)"


def mine_embeddings(subject: Subject, context: Context) -> list[Measurement]:
    """MINE on frozen-encoder embeddings of ``budget.embedding_pairs`` plain crops (side
    ``budget.size``, cut from ``context.sources``) and of their cipher images.

    ``setting["encoder"]`` says which encoder embedded them: ``"resnet18 (random-init: no
    weights here)"`` when the pretrained weights could not be had (see :func:`frozen_encoder`).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS, Context, Subject
    >>> g = torch.Generator().manual_seed(0)
    >>> sources = tuple(torch.randint(0, 256, (3, 40, 40), generator=g, dtype=torch.uint8) for _ in range(2))
    >>> context = Context(sources[0][None, :, :32, :32], 0, BUDGETS["quick"], sources)
    >>> (row,) = mine_embeddings(Subject("identity", ciphers.get("identity")), context)
    >>> row.setting["pairs"], row.setting["dim"], row.setting["encoder"].startswith("resnet18")
    (64, 512, True)
    """
    subject, context = check_cell(subject, context)
    budget = context.budget
    plain = crops_from_sources(context, budget.embedding_pairs, context.seed).to(context.device)
    cipher = _encrypt(subject, context, plain)
    encoder, label = frozen_encoder(torch.device(context.device))
    x, y = encoder.embed(plain), encoder.embed(cipher)
    value, mine = _mine(x, y, context)
    setting = {"pairs": int(plain.shape[0]), "crop": budget.size, "encoder": label, "pretrained": encoder.pretrained,
               "dim": encoder.dim, "mine": mine, **({"note": mine["note"]} if "note" in mine else {})}
    return [Measurement("mine_embeddings", value, "bits", "higher", setting)]


def information_loss(subject: Subject, context: Context) -> list[Measurement]:
    """Mean information loss rate ΔM / M(I) of the RVT paper over ``context.images`` (all-black
    images, whose M(I) = 0, left out).

    Defined for schemes that only move pixels: their gather maps
    (``pixel_maps`` of :class:`~imgleak.ciphers.base.PixelMover`) say which neighbour pairs keep their
    distance. ``identity`` moves nothing: 0, the least loss, so it leaks the most
    (``leaks_more="lower"``). For a scheme that changes pixel values the measure is not
    defined (its pairs have no distance to keep): NaN, with ``setting["note"]`` saying why —
    a relative change of M(I) would not do, since M of noise can be close to M of a photo.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS, Context, Subject
    >>> context = Context(torch.full((2, 1, 8, 8), 200, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> information_loss(Subject("identity", ciphers.get("identity")), context)[0].value
    0.0
    >>> math.isnan(information_loss(Subject("otp", ciphers.get("selective", bits=8)), context)[0].value)
    True
    """
    subject, context = check_cell(subject, context)
    cipher, images = subject.cipher, context.images
    if not isinstance(cipher, PixelMover):
        note = (f"not defined for {cipher.describe()}: the RVT information measure covers schemes that only move "
                "pixels (PixelMover); this one changes pixel values")
        return [Measurement("information_loss", math.nan, "fraction", "lower", {"note": note})]
    key = subject.key(context.seed, context)
    maps = cipher.pixel_maps(key, tuple(images.shape), int(images.shape[0]), 0)
    rates = information_loss_rate(images, maps).double()
    rates = rates[~torch.isnan(rates)]
    value = float(rates.mean()) if rates.numel() else math.nan
    setting = {"images": int(images.shape[0]), "images_measured": int(rates.numel()),
               "measure": "information_loss_rate (imgleak.information defaults)"}
    return [Measurement("information_loss", value, "fraction", "lower", setting)]


FAMILY = "information"
ADVERSARY = "ciphertext-only"  # MI estimators that learn from plain/cipher samples, like a learning attacker

CRITERIA: dict[str, Criterion] = {
    "histogram_mi": histogram_mi,
    "mine_pixels": mine_pixels,
    "mine_embeddings": mine_embeddings,
    "information_loss": information_loss,
}
"""The information cells, by name."""

__all__ = ["ADVERSARY", "FAMILY", "CRITERIA", "ENCODER", "LEVELS", "NULL_SHUFFLES", "frozen_encoder", "histogram_mi", "independent_mi",
           "information_loss", "mine_embeddings", "mine_pixels"]
