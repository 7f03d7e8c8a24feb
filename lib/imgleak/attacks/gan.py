"""GAN-Attack: reconstruct plain-looking images from cipher images alone (Madono et al., MIRU 2019).

Ciphertext-only: the adversary has cipher images of one set of images and *other* plain
images, never a pair. Split the training images into disjoint halves T1 and T2
(:func:`imgleak.attacks.datasets.halves`), encrypt T1, and train a generator ``G`` (cipher →
plain-looking) against a discriminator ``D`` that tells ``G(E(T1))`` from the real plain images
T2 (standard GAN loss, non-saturating generator loss, no reconstruction loss). Test: ``G(E(Q))``
against ``Q`` (:func:`imgleak.attacks.inverse_network.evaluate_attack`).

What makes the attack work is that ``G`` is shaped like the scheme (seed paper, proxies from the
Kiya-lab code, see ``reference/learnable-encryption-attacks.md`` §2.3):

* pixel-wise encryption → ``"conv1x1"``: shared 1 × 1 convs 3 → 64 → 128 → 256 → 3 (BN + ReLU):
  every pixel is mapped by the same function of its own values only;
* Tanaka's block-wise scheme → ``"block"``: ``Conv(3 → 48, 4 × 4, stride 4)``, 1 × 1 convs,
  ``PixelShuffle(4)``: one function per 4 × 4 block;
* TN-model / TN-GAN → ``"unet"``.

``D`` is :class:`imgleak.ciphers.transform_nets.Discriminator` (DCGAN-style strided 4 × 4
convs, LeakyReLU 0.2, BN; its patch logits are averaged into one score per image). Both
networks get the DCGAN initialisation N(0, 0.02). Training (seed paper): **Adam lr 2e-4,
β1 = 0.5, batch 64, 100 epochs** (:data:`PAPER_GAN`); the function defaults are 5 epochs,
a discriminator of half DCGAN's width and the small generators of
:data:`imgleak.attacks.inverse_network.DEFAULT_ARCHITECTURES`.
An epoch is one pass over the cipher images T1; plain batches from T2 are drawn alongside
(reshuffled at every pass over T2).

**Steps, not epochs, decide the outcome.** The DCGAN initialisation makes ``G`` start as an
almost flat mid-grey map (output std about 7/255) and at lr 2e-4 it needs roughly 70–100 Adam
steps before its test SSIM leaves that of a mid-grey image; the paper ran about 3,900 (100
epochs of 2,500 / 64). Measured on 256 + 256 photo crops of 32 × 32, 128 test crops, batch 8
(32 steps an epoch), paper lr/β1, seed 0, grey SSIM 0.168: 20 epochs reach a final (best) test
SSIM of 0.29 (0.33) for pixel-wise encryption with one key, 0.26 (0.30) with a key per image and
0.27 (0.40) for Tanaka's scheme; batch 32 and 100 epochs (800 steps) give about 0.28 for the first. A
run of 2–3 epochs of 8 steps learns nothing yet. The pixel-wise result also depends on the seed:
a shared 1 × 1 generator sees each pixel only up to the key's negative–positive flip, so it may
settle on an inverted brightness (test SSIM about −0.1) or drift between modes; over seeds 0–5
the above 20-epoch run ended at 0.29, 0.14, 0.22, 0.29, 0.17, 0.23.

**BatchNorm statistics.** After every epoch the generator's BatchNorm running statistics are
recomputed over T1 for its current weights (one forward pass, no gradients), and evaluation
and :func:`~imgleak.attacks.inverse_network.reconstruct` use those. With the usual running
averages (momentum 0.1, running variance starting at 1) the eval-mode generator lagged tens of
steps behind the trained one, because the DCGAN-initialised pre-BN variances are only about
4e-4 and 4e-3: for its first ~60 steps it returned a flat grey image whatever it had learnt
(output std 0.5/255 where the batch-statistics output had 7/255), and at lr 1e-3 its test SSIM
was 0.15, 0.10, 0.06 at steps 40–60 where the same weights gave 0.23, 0.24, 0.16.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..ciphers.transform_nets import (
    Discriminator,
    _adam_schedule,
    _batches,
    _finite,
    _image_set,
    _positive_int,
    _seed,
    _threads,
    _training,
    _unit,
    dcgan_init,
)
from ..tensors import resolve_device
from .inverse_network import (
    DEFAULT_ARCHITECTURES,
    AttackResult,
    _evaluate_pairs,
    _test_pairs,
    build_network,
    evaluate_attack,
    reconstruct,
    resolve_architecture,
)

GAN_ARCHITECTURES = {"pixelwise": "conv1x1", "blockwise": "block", "etc": "block", "tn_model": "unet", "tn_gan": "unet"}
"""The GAN-Attack generator for each scheme (seed paper; EtC is our addition)."""

PAPER_GAN = {"epochs": 100, "lr": 2e-4, "beta1": 0.5, "batch_size": 64, "disc_width": 64}
"""The seed paper's GAN-Attack training (T1 = T2 = 2,500 STL-10 images); ``disc_width`` 64 is
DCGAN's (the paper's discriminator widths are in a lost figure)."""


def _recalibrate_batch_norm(network: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Reset the BatchNorm running statistics of ``network`` to their averages over ``images``
    (uint8, one pass in batches, no gradients) for its current weights; momenta restored."""
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    network.train()
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            network(_unit(images[start:start + batch_size]))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def train_gan_attack(
    cipher_images: torch.Tensor,
    plain_images: torch.Tensor,
    architecture: str | nn.Module = "pixelwise",
    *,
    epochs: int = 5,
    batch_size: int = PAPER_GAN["batch_size"],
    lr: float = PAPER_GAN["lr"],
    beta1: float = PAPER_GAN["beta1"],
    options: dict[str, Any] | None = None,
    disc_width: int = 32,
    test_cipher_images: torch.Tensor | None = None,
    test_plain_images: torch.Tensor | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    num_threads: int | None = None,
) -> AttackResult:
    """GAN-Attack: train a generator from cipher images T1 and unrelated plain images T2.

    Parameters
    ----------
    cipher_images
        Encrypted images ``E(T1)``, uint8 ``(N1, C, H, W)``.
    plain_images
        Plain images T2, uint8 ``(N2, C, H, W)`` (same ``C, H, W``; not the plain images of T1 —
        use :func:`imgleak.attacks.datasets.halves`). Sides of at least 16 (discriminator).
    architecture
        ``"conv1x1"``, ``"block"``, ``"unet"``, ``"locally_connected"``, a scheme name
        (``"pixelwise"``, ``"blockwise"``, ``"etc"``, ``"tn_model"``, ``"tn_gan"``:
        :data:`GAN_ARCHITECTURES`) or a ready ``nn.Module`` ([0, 1] → [0, 1]; trained in place,
        not re-initialised).
    epochs, batch_size, lr, beta1
        Passes over T1, minibatch size, Adam (``beta1``, 0.999) for both networks (paper: 100,
        64, 2e-4, 0.5).
    options
        Generator options for :func:`imgleak.attacks.inverse_network.build_network`.
    disc_width
        First width of the discriminator (default 32 for a CPU; 64 is DCGAN's, :data:`PAPER_GAN`).
    test_cipher_images, test_plain_images
        Optional held-out pairs ``(E(Q), Q)``: MSE and mean SSIM recorded after every epoch
        (for evaluation only — the attack never trains on pairs).
    seed, device, progress, num_threads
        As in :func:`imgleak.attacks.inverse_network.train_inverse_network`.

    Returns
    -------
    AttackResult
        ``attack="gan"``; ``network`` is the generator (eval mode, BatchNorm statistics
        recomputed over ``cipher_images`` after the last epoch), ``train_loss`` its loss per epoch;
        ``extra`` holds ``d_loss`` and the discriminator's mean probabilities ``d_real`` (on T2)
        and ``d_fake`` (on generated images); ``auxiliary["discriminator"]`` the discriminator.
    """
    c = _image_set(cipher_images, "cipher_images")
    p = _image_set(plain_images, "plain_images")
    if c.shape[1:] != p.shape[1:]:
        raise ValueError(f"cipher_images and plain_images must share (C, H, W), got {tuple(c.shape[1:])} and "
                         f"{tuple(p.shape[1:])}")
    if min(c.shape[-2:]) < 16:
        raise ValueError(f"images must be at least 16x16 pixels for the discriminator, got {c.shape[-2]}x{c.shape[-1]}")
    test = _test_pairs(test_cipher_images, test_plain_images, c.shape)
    if isinstance(architecture, nn.Module):
        arch_name = type(architecture).__name__
        if options:
            raise TypeError("options apply only to a named architecture, not to a ready nn.Module")
    elif isinstance(architecture, str):
        arch_name = resolve_architecture(architecture, GAN_ARCHITECTURES)
    else:
        raise TypeError(f"architecture must be a name or an nn.Module, got {type(architecture).__name__}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    epochs, batch_size, lr, beta1 = _adam_schedule(epochs, batch_size, lr, beta1)
    disc_width = _positive_int(disc_width, "disc_width")
    seed = _seed(seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    channels, height, width = (int(s) for s in c.shape[1:])
    if isinstance(architecture, str):  # fail on bad options/sizes before any work
        with torch.random.fork_rng(devices=[]):
            build_network(arch_name, channels, height, width, **(options or {}))

    start = time.perf_counter()
    with _training(seed, device, num_threads):
        if isinstance(architecture, nn.Module):
            generator_net = architecture.to(device)
        else:
            generator_net = build_network(arch_name, channels, height, width, **(options or {}))
            dcgan_init(generator_net)
            generator_net = generator_net.to(device)
        discriminator = Discriminator(channels, min(height, width), disc_width)
        dcgan_init(discriminator)
        discriminator = discriminator.to(device)
        opt_g = torch.optim.Adam(generator_net.parameters(), lr=lr, betas=(beta1, 0.999))
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(beta1, 0.999))
        rng = torch.Generator().manual_seed(seed + 1)
        cd, pd = c.to(device), p.to(device)
        test_d = None if test is None else (test[0].to(device), test[1].to(device))
        n_plain = pd.shape[0]
        plain_order, plain_pos = torch.randperm(n_plain, generator=rng), 0
        g_curve: list[float] = []
        extra: dict[str, list[float]] = {"d_loss": [], "d_real": [], "d_fake": []}
        test_loss: list[float] = []
        test_ssim: list[float] = []
        seen, train_seconds = 0, 0.0
        bar = tqdm(range(epochs), desc=f"GAN-Attack ({arch_name})", disable=not progress)
        for _ in bar:
            generator_net.train()
            discriminator.train()
            sums = torch.zeros(4, dtype=torch.float64, device=device)
            count = 0
            t0 = time.perf_counter()
            for rows in _batches(cd.shape[0], batch_size, rng):
                k = rows.numel()
                if plain_pos + min(k, n_plain) > n_plain:  # next pass over T2
                    plain_order, plain_pos = torch.randperm(n_plain, generator=rng), 0
                plain_rows = plain_order[plain_pos:plain_pos + min(k, n_plain)]
                plain_pos += plain_rows.numel()
                fake = generator_net(_unit(cd[rows.to(device)]))
                real = _unit(pd[plain_rows.to(device)])
                # discriminator: real plain images → 1, reconstructions → 0
                s_real, s_fake = discriminator.score(real), discriminator.score(fake.detach())
                loss_d = (F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))
                          + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake)))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                # generator: make D call the reconstructions real (non-saturating loss)
                s_gen = discriminator.score(fake)
                loss_g = F.binary_cross_entropy_with_logits(s_gen, torch.ones_like(s_gen))
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                sums += torch.stack([loss_g.detach(), loss_d.detach(), torch.sigmoid(s_real.detach()).mean(),
                                     torch.sigmoid(s_fake.detach()).mean()]).double() * k
                count += k
            _recalibrate_batch_norm(generator_net, cd, batch_size)
            train_seconds += time.perf_counter() - t0
            seen += count
            g_mean, d_mean, real_mean, fake_mean = (float(v) / count for v in sums.cpu())
            g_curve.append(_finite(g_mean, "the generator loss"))
            extra["d_loss"].append(_finite(d_mean, "the discriminator loss"))
            extra["d_real"].append(real_mean)
            extra["d_fake"].append(fake_mean)
            postfix = {"g": f"{g_mean:.3f}", "d": f"{d_mean:.3f}"}
            if test_d is not None:
                mse, score = _evaluate_pairs(generator_net, *test_d)
                test_loss.append(mse)
                test_ssim.append(score)
                postfix["test_ssim"] = f"{score:.3f}"
            bar.set_postfix(postfix)
        bar.close()
        generator_net.eval()
        discriminator.eval()

    settings = {
        "architecture": arch_name,
        "options": {} if isinstance(architecture, nn.Module) else {**DEFAULT_ARCHITECTURES[arch_name], **(options or {})},
        "epochs": epochs, "batch_size": batch_size, "optimizer": "Adam", "lr": lr, "betas": [beta1, 0.999],
        "loss": "GAN (BCE on the mean patch logit; non-saturating generator loss)",
        "discriminator": discriminator.config, "init": "DCGAN N(0, 0.02)",
        "batch_norm": "generator statistics recomputed over T1 after every epoch",
        "n_cipher": int(c.shape[0]), "n_plain": int(p.shape[0]),
        "image_shape": [channels, height, width], "n_test": 0 if test is None else int(test[0].shape[0]),
        "seed": seed, "device": str(device), "num_threads": num_threads,
    }
    return AttackResult(
        attack="gan", architecture=arch_name, train_loss=g_curve, test_loss=test_loss, test_ssim=test_ssim,
        seconds=time.perf_counter() - start, images_per_second=seen / max(train_seconds, 1e-9),
        n_train=int(c.shape[0]), parameters=sum(q.numel() for q in generator_net.parameters()),
        settings=settings, network=generator_net, extra=extra, auxiliary={"discriminator": discriminator},
    )


__all__ = ["GAN_ARCHITECTURES", "PAPER_GAN", "evaluate_attack", "reconstruct", "train_gan_attack"]
