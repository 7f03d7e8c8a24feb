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

``D`` is :class:`imgleak.nets.discriminator.Discriminator` (DCGAN-style strided 4 × 4
convs, LeakyReLU 0.2, BN; its patch logits are averaged into one score per image). Both
networks get the DCGAN initialisation N(0, 0.02). Training (seed paper): **Adam lr 2e-4,
β1 = 0.5, batch 64, 100 epochs** (:data:`PAPER_GAN`); the function defaults are 5 epochs,
a discriminator of half DCGAN's width and the small generators of
:data:`imgleak.attacks.inverse_network.DEFAULT_ARCHITECTURES`.
An epoch is one pass over the cipher images T1; plain batches from T2 are drawn alongside
(reshuffled at every pass over T2).

**Steps, not epochs, decide the outcome.** The DCGAN initialisation makes ``G`` start as an
almost flat mid-grey map, and at the paper's learning rate it needs many Adam steps before its
test SSIM leaves that of a mid-grey image (the paper ran about 3,900: 100 epochs of 2,500 / 64),
so a run of a few short epochs learns nothing yet. The pixel-wise result also depends on the
seed: a shared 1 × 1 generator sees each pixel only up to the key's negative–positive flip, so
it may settle on an inverted brightness or drift between modes. The runs that showed this are
recorded in ``bench/README.md`` (GAN-Attack).

**BatchNorm statistics.** After every epoch the generator's BatchNorm running statistics are
recomputed over T1 for its current weights (one forward pass, no gradients), and evaluation
and :func:`~imgleak.attacks.inverse_network.reconstruct` use those. With the usual running
averages (momentum 0.1, running variance starting at 1) the eval-mode generator lags tens of
steps behind the trained one, because the DCGAN-initialised pre-BN variances are far below 1:
early on it returns a flat grey image whatever it has learnt (``bench/README.md``, GAN-Attack).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._checks import boolean
from ..nets.discriminator import Discriminator, dcgan_init
from ..tensors import to_unit
from ..training.common import EpochClock, GANSettings, finite, image_set, shuffled_batches
from ..training.run_settings import configured, filled
from ..training.seeding import seeded_training
from .inverse_network import (
    AttackResult,
    append_test_scores,
    attack_network,
    check_architecture,
    evaluate_attack,
    held_out_pairs,
    reconstruct,
)

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
            network(to_unit(images[start:start + batch_size]))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


@dataclass(frozen=True, kw_only=True)
class GANAttackConfig(GANSettings):
    """The settings of :func:`train_gan_attack`, each with its default; ``asdict()`` of the run's
    filled copy (:meth:`for_data`) is the result's ``settings``.

    Chosen by the caller (and :class:`~imgleak.training.common.GANSettings`'s ``betas``
    (``beta1``; Adam for both networks), ``discriminator`` (``disc_width``: its first width, 32 for
    a CPU; 64 is DCGAN's, :data:`PAPER_GAN`), ``seed``, ``device``, ``num_threads``):

    * ``epochs``, ``batch_size``, ``lr``: passes over T1 (a trailing batch of one is dropped),
      minibatch size, Adam's learning rate (paper: 100, 64, 2e-4, with ``beta1`` 0.5);
    * ``options``: generator options for :func:`imgleak.attacks.inverse_network.build_network`.

    Filled by :meth:`for_data`: ``architecture`` (the generator's name), ``options`` (all of them),
    ``discriminator`` (with the images' shape), ``n_cipher``, ``n_plain``, ``image_shape``,
    ``n_test`` (held-out pairs).
    """

    architecture: str | None = field(default=None, init=False)
    options: dict[str, Any] | None = None
    epochs: int = 5
    batch_size: int = PAPER_GAN["batch_size"]
    optimizer: str = field(default="Adam", init=False)
    lr: float = PAPER_GAN["lr"]
    loss: str = field(default="GAN (BCE on the mean patch logit; non-saturating generator loss)", init=False)
    init: str = field(default="DCGAN N(0, 0.02)", init=False)
    batch_norm: str = field(default="generator statistics recomputed over T1 after every epoch", init=False)
    n_cipher: int | None = field(default=None, init=False)
    n_plain: int | None = field(default=None, init=False)
    image_shape: list[int] | None = field(default=None, init=False)
    n_test: int | None = field(default=None, init=False)

    def for_data(self, architecture: str | nn.Module, c: torch.Tensor, p: torch.Tensor,
                 test: tuple[torch.Tensor, torch.Tensor] | None) -> GANAttackConfig:
        """This config filled for ``architecture`` trained on cipher images ``c`` and plain images ``p``."""
        shape = [int(s) for s in c.shape[1:]]
        name, recorded = check_architecture(architecture, self.options, tuple(shape), "gan")
        return filled(self, architecture=name, options=recorded, discriminator=self.discriminator_for(shape),
                      n_cipher=int(c.shape[0]), n_plain=int(p.shape[0]), image_shape=shape,
                      n_test=0 if test is None else int(test[0].shape[0]))


def _gan_images(cipher_images: Any, plain_images: Any) -> tuple[torch.Tensor, torch.Tensor]:
    c = image_set(cipher_images, "cipher_images")
    p = image_set(plain_images, "plain_images")
    if c.shape[1:] != p.shape[1:]:
        raise ValueError(f"cipher_images and plain_images must share (C, H, W), got {tuple(c.shape[1:])} and "
                         f"{tuple(p.shape[1:])}")
    if min(c.shape[-2:]) < 16:
        raise ValueError(f"images must be at least 16x16 pixels for the discriminator, got {c.shape[-2]}x{c.shape[-1]}")
    return c, p


class _PlainBatches:
    """Batches of T2 drawn alongside those of T1: a seeded order, reshuffled at every pass over T2."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n, self.generator = n, generator
        self.order, self.pos = torch.randperm(n, generator=generator), 0

    def take(self, k: int) -> torch.Tensor:
        if self.pos + min(k, self.n) > self.n:  # next pass over T2
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        rows = self.order[self.pos:self.pos + min(k, self.n)]
        self.pos += rows.numel()
        return rows


@dataclass
class _Adversaries:
    """The generator, the discriminator and their optimisers."""

    generator: nn.Module
    discriminator: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    @classmethod
    def build(cls, architecture: str | nn.Module, config: GANAttackConfig, device: torch.device) -> "_Adversaries":
        generator = attack_network(architecture, config)
        if not isinstance(architecture, nn.Module):
            dcgan_init(generator)
        generator = generator.to(device)
        discriminator = Discriminator(**config.discriminator)
        dcgan_init(discriminator)
        discriminator = discriminator.to(device)
        betas = (config.betas[0], config.betas[1])
        return cls(generator, discriminator, torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas),
                   torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas))

    def step(self, cipher: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """One discriminator and one generator update; the detached (g loss, d loss, D(real), D(fake))."""
        fake = self.generator(cipher)
        # discriminator: real plain images → 1, reconstructions → 0
        s_real, s_fake = self.discriminator.score(real), self.discriminator.score(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))
                  + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # generator: make D call the reconstructions real (non-saturating loss)
        s_gen = self.discriminator.score(fake)
        loss_g = F.binary_cross_entropy_with_logits(s_gen, torch.ones_like(s_gen))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return torch.stack([loss_g.detach(), loss_d.detach(), torch.sigmoid(s_real.detach()).mean(),
                            torch.sigmoid(s_fake.detach()).mean()])


def _gan_epoch(nets: _Adversaries, cd: torch.Tensor, pd: torch.Tensor, plain: _PlainBatches, batch_size: int,
               rng: torch.Generator) -> tuple[list[float], int]:
    """One pass over T1, then the generator's BatchNorm statistics recomputed; the epoch's means and image count."""
    nets.generator.train()
    nets.discriminator.train()
    sums = torch.zeros(4, dtype=torch.float64, device=cd.device)
    count = 0
    for rows in shuffled_batches(cd.shape[0], batch_size, rng):
        k = rows.numel()
        plain_rows = plain.take(k)
        sums += nets.step(to_unit(cd[rows.to(cd.device)]), to_unit(pd[plain_rows.to(cd.device)])).double() * k
        count += k
    _recalibrate_batch_norm(nets.generator, cd, batch_size)
    return [float(v) / count for v in sums.cpu()], count


def train_gan_attack(
    cipher_images: torch.Tensor,
    plain_images: torch.Tensor,
    architecture: str | nn.Module = "pixelwise",
    config: GANAttackConfig = GANAttackConfig(),
    *,
    test_cipher_images: torch.Tensor | None = None,
    test_plain_images: torch.Tensor | None = None,
    progress: bool = True,
    **overrides: Any,
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
        ``"conv1x1"``, ``"block"``, ``"unet"``, ``"locally_connected"``, a registered scheme's name
        (the generator its cipher class declares for ``"gan"``:
        :func:`~imgleak.attacks.inverse_network.scheme_networks`) or a ready ``nn.Module`` ([0, 1] → [0, 1]; trained in place,
        not re-initialised).
    config, overrides
        The settings (:class:`GANAttackConfig`, where each is described), with any keyword
        ``overrides`` of its fields applied.
    test_cipher_images, test_plain_images
        Optional held-out pairs ``(E(Q), Q)``: MSE and mean SSIM recorded after every epoch
        (for evaluation only — the attack never trains on pairs).
    progress
        A tqdm bar over epochs.

    Returns
    -------
    AttackResult
        ``attack="gan"``; ``network`` is the generator (eval mode, BatchNorm statistics
        recomputed over ``cipher_images`` after the last epoch), ``train_loss`` its loss per epoch;
        ``extra`` holds ``d_loss`` and the discriminator's mean probabilities ``d_real`` (on T2)
        and ``d_fake`` (on generated images); ``auxiliary["discriminator"]`` the discriminator.
        Its ``settings`` are ``asdict`` of the run's filled :class:`GANAttackConfig`.

    >>> x = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    >>> result = train_gan_attack(255 - x[:4], x[4:], "conv1x1", epochs=1, batch_size=4, disc_width=8, device="cpu",
    ...                           progress=False)
    >>> result.attack, result.settings["betas"], len(result.extra["d_loss"])
    ('gan', [0.5, 0.999], 1)
    """
    config = configured(config, GANAttackConfig, overrides)
    c, p = _gan_images(cipher_images, plain_images)
    test = held_out_pairs(test_cipher_images, test_plain_images, c.shape)
    config = config.for_data(architecture, c, p, test)
    return _run_gan_attack(architecture, c, p, test, config, boolean(progress, "progress"))


def _run_gan_attack(architecture: str | nn.Module, c: torch.Tensor, p: torch.Tensor,
                    test: tuple[torch.Tensor, torch.Tensor] | None, config: GANAttackConfig,
                    progress: bool) -> AttackResult:
    start = time.perf_counter()
    device = torch.device(config.device)
    with seeded_training(config.seed, device, config.num_threads):
        nets = _Adversaries.build(architecture, config, device)
        rng = torch.Generator().manual_seed(config.seed + 1)
        cd, pd = c.to(device), p.to(device)
        test_d = None if test is None else (test[0].to(device), test[1].to(device))
        plain = _PlainBatches(pd.shape[0], rng)
        curves: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "test_ssim": []}
        extra: dict[str, list[float]] = {"d_loss": [], "d_real": [], "d_fake": []}
        clock = EpochClock()
        bar = tqdm(range(config.epochs), desc=f"GAN-Attack ({config.architecture})", disable=not progress)
        for _ in bar:
            started = time.perf_counter()
            (g_mean, d_mean, real_mean, fake_mean), count = _gan_epoch(nets, cd, pd, plain, config.batch_size, rng)
            clock.add(started, count)
            curves["train_loss"].append(finite(g_mean, "the generator loss"))
            extra["d_loss"].append(finite(d_mean, "the discriminator loss"))
            extra["d_real"].append(real_mean)
            extra["d_fake"].append(fake_mean)
            bar.set_postfix(append_test_scores(nets.generator, test_d, curves, g=f"{g_mean:.3f}", d=f"{d_mean:.3f}"))
        bar.close()
        nets.generator.eval()
        nets.discriminator.eval()
    return AttackResult(
        attack="gan", architecture=config.architecture, **curves, seconds=time.perf_counter() - start,
        images_per_second=clock.images_per_second, n_train=int(c.shape[0]),
        parameters=sum(q.numel() for q in nets.generator.parameters()), settings=asdict(config),
        network=nets.generator, extra=extra, auxiliary={"discriminator": nets.discriminator},
    )


__all__ = ["PAPER_GAN", "GANAttackConfig", "evaluate_attack", "reconstruct", "train_gan_attack"]
