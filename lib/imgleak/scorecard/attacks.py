"""The attack criterion of the scorecard: FR-, ITN- and GAN-Attack reconstructions scored on
images no attack saw.

The attack data are ``budget.attack_train`` training and ``budget.attack_test`` test crops of side
``budget.size``, cut from ``context.sources`` **split by source image** (:func:`attack_data`,
:func:`imgleak.attacks.datasets.source_crops`): no test image lends a pixel to the training crops.
For per-image-key schemes the test crops are images ``budget.attack_train`` onwards, so no test
image shares a key with a training image.

- FR-Attack: :func:`~imgleak.attacks.feature_reconstruction.feature_reconstruction` (L = 8, b = 0)
  on the test cipher images (no training);
- ITN-Attack: :func:`~imgleak.attacks.inverse_network.train_inverse_network` on the training pairs,
  ``budget.attack_epochs`` epochs;
- GAN-Attack: :func:`~imgleak.attacks.gan.train_gan_attack`, the training crops split into disjoint
  halves T1 (encrypted) and T2 (plain), ``budget.gan_epochs`` epochs.

The networks are the ones the paper shapes for the scheme when its cipher class declares them
(``attack_networks``: :func:`imgleak.ciphers.base.declared_network`).
Otherwise the attacker tries the generic ones (:func:`generic_candidates`: 1 × 1 convolutions, which
fit pixel-wise schemes, and a U-Net) and keeps the one with the lowest MSE on
:data:`VALIDATION_SHARE` of its own training pairs; the GAN uses that network. ``setting`` says
which, and why. Both train ``budget.attack_epochs`` / ``gan_epochs`` epochs in batches of
``budget.attack_batch``, the ITN at ``budget.attack_lr`` (``None``: the network's own learning rate):
at the ``quick`` budget (128 crops, 4 epochs, batches of 8: 64 optimiser steps, ITN lr 1e-2) the attacks
on ``identity`` reconstruct well above the grey and mean-image guesses, which the former single step of
one batch of 32 never did, and the block network inverts the block-wise scheme (at its own 1e-3, 64
steps left it at the grey guess).

Rows: ``cipher_ssim`` (the cipher image itself taken as the reconstruction: the attack that costs
nothing), ``fr_ssim``, ``itn_ssim``, ``gan_ssim`` and their ``_psnr`` (leak more when higher);
``best_attack_ssim``, the largest of the four SSIMs — the cipher image is counted so that an
unprotected image scores 1 whatever the trained attacks reach in a small budget; and the
baselines ``grey_ssim`` (a flat mid-grey guess) and ``mean_image_ssim`` (the mean training crop),
what a reconstruction must beat to have recovered anything (``leaks_more="none"``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..attacks.datasets import AttackData, halves, source_crops
from ..attacks.feature_reconstruction import feature_reconstruction
from ..attacks.gan import train_gan_attack
from ..attacks.inverse_network import DEFAULT_ARCHITECTURES, AttackResult, evaluate_attack, train_inverse_network
from ..ciphers.base import declared_network
from ..metrics import psnr, ssim
from .base import Context, Criterion, Measurement, Subject, check_cell

TEST_SOURCE_SHARE = 0.25
"""Share of the source images (at least one, never all) whose crops are the attacks' test crops."""

GREY = 128
"""The flat guess of the ``grey_ssim`` baseline."""

VALIDATION_SHARE = 0.25
"""Share of the attacker's training pairs held out to choose a generic ITN network."""

PSNR_CAP = 100.0
"""PSNR of identical images (dB), as :func:`~imgleak.attacks.inverse_network.evaluate_attack` counts it."""


def usable_sources(context: Context, size: int) -> list[torch.Tensor]:
    """The images of ``context.sources`` with the run's channel count that hold a ``size`` crop.

    >>> from imgleak.scorecard.base import BUDGETS
    >>> sources = (torch.zeros(3, 40, 40, dtype=torch.uint8), torch.zeros(3, 20, 40, dtype=torch.uint8))
    >>> context = Context(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 0, BUDGETS["quick"], sources)
    >>> [tuple(s.shape) for s in usable_sources(context, 32)]
    [(3, 40, 40)]
    """
    channels = int(context.images.shape[1])
    return [s for s in context.sources
            if s.dim() == 3 and int(s.shape[0]) == channels and min(int(s.shape[-2]), int(s.shape[-1])) >= size]


def attack_data(context: Context) -> AttackData:
    """``budget.attack_train`` training and ``budget.attack_test`` test crops of side ``budget.size``
    from ``context.sources``, split by source image and seeded with ``context.seed``.

    Raises ``ValueError`` (naming ``context.sources``) when fewer than two sources hold a crop.

    >>> from imgleak.scorecard.base import BUDGETS
    >>> sources = tuple(torch.full((1, 40, 40), v, dtype=torch.uint8) for v in range(4))
    >>> data = attack_data(Context(torch.zeros(1, 1, 32, 32, dtype=torch.uint8), 0, BUDGETS["quick"], sources))
    >>> data.train.shape, data.test.shape, len(data.test_photos)
    (torch.Size([128, 1, 32, 32]), torch.Size([32, 1, 32, 32]), 1)
    """
    budget = context.budget
    sources = usable_sources(context, budget.size)
    if len(sources) < 2:
        raise ValueError(f"context.sources must hold at least 2 images of at least {budget.size}x{budget.size} "
                         f"pixels with {int(context.images.shape[1])} channels (the attacks split their crops by "
                         f"source); {len(sources)} of {len(context.sources)} do")
    n_test = min(len(sources) - 1, max(1, round(TEST_SOURCE_SHARE * len(sources))))
    return source_crops(sources, budget.attack_train, budget.attack_test, budget.size, test_photos=n_test,
                        seed=context.seed)


def crops_from_sources(context: Context, count: int, seed: int) -> torch.Tensor:
    """``count`` random crops of side ``budget.size`` shared out among all usable ``context.sources``
    (both splits of :func:`~imgleak.attacks.datasets.source_crops`), seeded.

    >>> from imgleak.scorecard.base import BUDGETS
    >>> sources = tuple(torch.full((1, 40, 40), v, dtype=torch.uint8) for v in range(4))
    >>> context = Context(torch.zeros(1, 1, 32, 32, dtype=torch.uint8), 0, BUDGETS["quick"], sources)
    >>> crops = crops_from_sources(context, 8, 0)
    >>> crops.shape, sorted(set(crops.flatten().tolist()))
    (torch.Size([8, 1, 32, 32]), [0, 1, 2, 3])
    """
    size = context.budget.size
    sources = usable_sources(context, size)
    if len(sources) < 2 or count < 2:
        raise ValueError(f"context.sources must hold at least 2 images of at least {size}x{size} pixels with the "
                         f"run's channels, and count must be at least 2; got {len(sources)} and {count}")
    half = len(sources) // 2  # the sources of the second split
    n_second = max(1, count * half // len(sources))  # crops shared out about evenly among all sources
    data = source_crops(sources, count - n_second, n_second, size, test_photos=half, seed=seed)
    return torch.cat([data.train, data.test])


def generic_candidates(height: int, width: int) -> list[str]:
    """The networks an attacker tries on a scheme without a registered one: shared 1 × 1 convolutions
    (pixel-wise structure, any size) and the U-Net (default depth) when the sides are multiples of what it needs.

    >>> generic_candidates(32, 32), generic_candidates(30, 30)
    (['conv1x1', 'unet'], ['conv1x1'])
    """
    multiple = 2 ** DEFAULT_ARCHITECTURES["unet"]["depth"]
    return ["conv1x1"] + (["unet"] if height % multiple == 0 and width % multiple == 0 else [])


def _validation_split(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the fitting and validation pairs (:data:`VALIDATION_SHARE` of ``count``, at least 2 each)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    n_val = min(count - 2, max(2, round(VALIDATION_SHARE * count)))
    return order[n_val:], order[:n_val]


def _itn(subject: Subject, context: Context, data: AttackData, train_c: torch.Tensor) -> tuple[AttackResult, str]:
    """ITN-Attack with the scheme's registered network, or the generic candidate with the lowest MSE on a
    validation share of the attacker's own training pairs (the test crops play no part in the choice)."""
    budget, name = context.budget, subject.cipher.name
    common = {"epochs": budget.attack_epochs, "batch_size": budget.attack_batch, "lr": budget.attack_lr,
              "seed": context.seed, "device": context.device, "progress": False}
    declared = declared_network(subject.cipher, "itn")
    if declared is not None:
        return train_inverse_network(train_c, data.train, declared, **common), f"registered for {name!r}"
    candidates = generic_candidates(int(data.train.shape[-2]), int(data.train.shape[-1]))
    if len(candidates) == 1 or data.train.shape[0] < 6:
        return train_inverse_network(train_c, data.train, candidates[0], **common), "generic (the only candidate)"
    fit, val = _validation_split(int(data.train.shape[0]), context.seed)
    fit, val = fit.to(train_c.device), val.to(train_c.device)
    tried = {net: train_inverse_network(train_c[fit], data.train[fit], net, test_cipher_images=train_c[val],
                                        test_plain_images=data.train[val], **common) for net in candidates}
    best = min(tried, key=lambda net: tried[net].test_loss[-1])
    losses = ", ".join(f"{net} {tried[net].test_loss[-1]:.4f}" for net in candidates)
    return tried[best], f"generic, lowest validation MSE of {losses}"


def _scores(guess: torch.Tensor, plain: torch.Tensor) -> tuple[float, float]:
    """Mean SSIM and PSNR (dB, capped at :data:`PSNR_CAP`) of uint8 guesses against the plain images."""
    guess = guess.to(plain.device)
    return float(ssim(guess, plain).mean()), float(psnr(guess, plain).clamp(max=PSNR_CAP).mean())


def _trained_attacks(subject: Subject, context: Context, data: AttackData, train_c: torch.Tensor,
                     test_c: torch.Tensor) -> dict[str, tuple[float, float, dict[str, Any]]]:
    """ITN- and GAN-Attack: ``name -> (ssim, psnr, setting)`` on the test crops. The GAN uses the scheme's
    registered GAN network, else the network the ITN attacker chose."""
    budget, name = context.budget, subject.cipher.name
    itn, itn_from = _itn(subject, context, data, train_c)
    declared = declared_network(subject.cipher, "gan")
    gan_net, gan_from = ((declared, f"registered for {name!r}") if declared is not None
                         else (itn.architecture, "generic, the ITN attacker's choice"))
    t1, t2 = halves(torch.arange(data.train.shape[0]), seed=context.seed)
    gan = train_gan_attack(train_c[t1.to(train_c.device)], data.train[t2.to(data.train.device)], gan_net,
                           epochs=budget.gan_epochs, batch_size=budget.attack_batch, seed=context.seed,
                           device=context.device, progress=False)
    out = {}
    for label, result, source in (("itn", itn, itn_from), ("gan", gan, gan_from)):
        scores = evaluate_attack(result, test_c, data.test)
        out[label] = (scores["ssim"], scores["psnr"], {"architecture": result.architecture, "chosen": source,
                                                       "epochs": result.settings["epochs"],
                                                       "batch_size": result.settings["batch_size"],
                                                       "train_pairs": result.n_train})
    return out


def attacks(subject: Subject, context: Context) -> list[Measurement]:
    """FR-, ITN- and GAN-Attack SSIM / PSNR on unseen test crops, the cipher image itself, the
    best of them and the grey and mean-image baselines (see the module docstring).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> g = torch.Generator().manual_seed(0)
    >>> sources = tuple(torch.randint(0, 256, (1, 40, 40), generator=g, dtype=torch.uint8) for _ in range(3))
    >>> context = Context(sources[0][None, :, :32, :32], 0, BUDGETS["quick"], sources)
    >>> rows = attacks(Subject("identity", ciphers.get("identity")), context)
    >>> [r.criterion for r in rows][-3:], rows[0].criterion, rows[0].value
    (['best_attack_ssim', 'grey_ssim', 'mean_image_ssim'], 'cipher_ssim', 1.0)
    """
    subject, context = check_cell(subject, context)
    data = attack_data(context)
    key = subject.key(context.seed, context)
    train_c = subject.cipher.encrypt(data.train, key, first_index=0)
    test_c = subject.cipher.encrypt(data.test, key, first_index=context.budget.attack_train)
    common = {"train_crops": int(data.train.shape[0]), "test_crops": int(data.test.shape[0]),
              "size": context.budget.size, "test_sources": list(data.test_photos), "test_first_index":
              context.budget.attack_train}
    found = {"cipher": (*_scores(test_c, data.test), {"attack": "none: the cipher image as it is"}),
             "fr": (*_scores(feature_reconstruction(test_c), data.test), {"bits": 8, "leading_bit": 0})}
    found.update(_trained_attacks(subject, context, data, train_c, test_c))
    rows = []
    for label, (score, db, setting) in found.items():
        rows += [Measurement(f"{label}_ssim", score, "SSIM", "higher", {**common, **setting}),
                 Measurement(f"{label}_psnr", db, "dB", "higher", {**common, **setting})]
    best = max(found, key=lambda label: found[label][0])
    rows.append(Measurement("best_attack_ssim", found[best][0], "SSIM", "higher",
                            {**common, "best": best, "over": list(found)}))
    mean_image = data.train.double().mean(0).round().to(torch.uint8).expand_as(data.test)
    for label, guess in (("grey", torch.full_like(data.test, GREY)), ("mean_image", mean_image)):
        rows.append(Measurement(f"{label}_ssim", _scores(guess, data.test)[0], "SSIM", "none", common))
    return rows


FAMILY = "attacks"
ADVERSARY = "ciphertext-only"  # FR, ITN and GAN attacks learn from cipher images

CRITERIA: dict[str, Criterion] = {"attacks": attacks}
"""The attack cell, by name."""

__all__ = ["ADVERSARY", "FAMILY", "CRITERIA", "GREY", "PSNR_CAP", "TEST_SOURCE_SHARE", "attack_data", "attacks", "crops_from_sources",
           "generic_candidates", "usable_sources"]
