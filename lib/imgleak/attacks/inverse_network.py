"""ITN-Attack: an inverse transformation network trained on known (cipher, plain) pairs.

Sirichotedumrong, Kinoshita & Kiya (GCCE 2019), as evaluated in the seed paper (arXiv
2010.06198, §2.4 of ``reference/learnable-encryption-attacks.md``): the adversary holds exact
pairs ``(E(T), T)`` and trains a network ``N`` to minimise ``MSE(N(E(T)), T)``; the attack is
then ``N(E(Q))`` on new cipher images. The network is shaped for the scheme:

``"locally_connected"`` (pixel-wise encryption; seed Fig. 8)
    1 × 1 **locally connected** layers — a 1 × 1 convolution with **unshared weights per pixel
    position** (:class:`LocallyConnected1x1`, a parameter tensor ``(H·W, C_out, C_in)`` applied
    with ``einsum``, plus a bias per position) — with BatchNorm + ReLU between them and a
    sigmoid output. The paper has three such layers; their widths are in a lost figure (our
    guess: 3 → 64 → 64 → 3, :data:`PAPER_ARCHITECTURES`). Default here: one hidden layer of 32.
``"block"`` (Tanaka's block-wise scheme; seed Fig. 6(a), proxy from the Kiya-lab code)
    ``Conv(C → 48, 4 × 4, stride 4)`` + BN + ReLU, ``1 × 1`` 48 → 48 + BN + ReLU, ``1 × 1``
    48 → 512 + BN + ReLU, ``PixelShuffle(4)`` → 32 channels at full resolution, ``1 × 1`` 32 → C,
    sigmoid (:class:`BlockNet`).
``"conv1x1"`` (the GAN-Attack's pixel-wise generator; seed Fig. 6(b), proxy)
    shared 1 × 1 convs 3 → 64 → 128 → 256 → 3 with BN + ReLU (:class:`PixelNet`; default here
    3 → 32 → 64 → 3, the paper-sized one in :data:`PAPER_ARCHITECTURES`).
``"unet"`` (TN-model, TN-GAN)
    :class:`imgleak.ciphers.unet.UNet`.

A registered scheme's name picks the network its cipher class declares for the attack
(``attack_networks``; :func:`scheme_networks`): ``architecture="pixelwise"`` → locally connected,
``"blockwise"`` and ``"etc"`` → block, ``"tn_model"``/``"tn_gan"`` → U-Net (the seed paper's choices;
EtC is our addition).

Training (:func:`train_inverse_network`): SGD with momentum 0.9, weight decay 5e-4, MSE on
[0, 1] images, learning rate divided by 10 at fixed epochs. The paper's schedules are
:data:`PAPER_ITN_SCHEDULES` (pixel-wise: 70 epochs, lr 0.1, ÷10 at 40 and 60; the others:
300 epochs, ÷10 at 150 and 225; batch 128). The function defaults are small-scale (10 epochs,
the milestones at the same fractions of the run) and use **AdamW** (:data:`DEFAULT_LR`, decoupled
weight decay 5e-4). The reason is the locally connected layer: with a loss averaged over all
pixels, each pixel's own weights receive a gradient ``H·W`` times smaller than a shared weight
would, so SGD barely moves them in a short run, and an L2 term added to the gradient (SGD's or
Adam's ``weight_decay``) outweighs it (the comparison is recorded in ``bench/README.md``,
ITN-Attack). ``optimizer="sgd"`` with the paper's settings is one argument away.

:func:`reconstruct` runs a trained network (ITN or GAN-Attack generator) on cipher images and
returns uint8 images; :func:`evaluate_attack` gives mean SSIM and PSNR against the plain images.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._checks import boolean, choice, number, positive_int
from ..metrics import psnr, ssim
from .. import ciphers
from ..ciphers.base import declared_network
from ..ciphers.unet import UNet
from ..results import Result
from ..tensors import as_image_batch, restore_rank, run_network, to_unit
from ..training.common import EpochClock, finite, image_set, shuffled_batches
from ..training.run_settings import TrainingSettings, configured, filled
from ..training.seeding import seeded_training

ARCHITECTURES = ("locally_connected", "conv1x1", "block", "unet")
"""Network shapes :func:`build_network` makes."""

ATTACKS = ("itn", "gan")
"""The trained attacks a cipher class declares networks for (``attack_networks``)."""


def scheme_networks(attack: str = "itn") -> dict[str, str]:
    """Registered scheme name → the network its cipher class declares for ``attack`` (``attack_networks``;
    schemes that declare none are left out). Read from the registry now, so a newly registered scheme counts.

    >>> scheme_networks("itn")["pixelwise"], scheme_networks("gan")["pixelwise"], "selective" in scheme_networks()
    ('locally_connected', 'conv1x1', False)
    """
    choice(attack, "attack", ATTACKS)
    declared = {name: declared_network(ciphers.scheme_class(name), attack) for name in ciphers.available()}
    return {name: network for name, network in declared.items() if network is not None}

PAPER_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "locally_connected": {"hidden": (64, 64)},
    "conv1x1": {"hidden": (64, 128, 256)},
    "block": {"block": 4, "widths": (48, 48, 512)},
    "unet": {"base": 64, "depth": 4},
}
"""Network options for the ``paper`` profile. Locally connected widths: a guess (lost figure);
conv1x1 and block: the Kiya-lab proxies of Figs. 6(b)/6(a); U-Net: Ronneberger's widths (the
paper's U-Net is not specified; depth 4 fits 96 × 96 = 6 · 2^4)."""

DEFAULT_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "locally_connected": {"hidden": (32,)},
    "conv1x1": {"hidden": (32, 64)},
    "block": {"block": 4, "widths": (48, 48, 512)},
    "unet": {"base": 16, "depth": 3},
}
"""Network options used when ``options`` is not given: small enough to train on a CPU (the
paper-sized ones are :data:`PAPER_ARCHITECTURES`; their speed is recorded in ``bench/README.md``)."""

PAPER_ITN_SCHEDULES: dict[str, dict[str, Any]] = {
    "locally_connected": {"optimizer": "sgd", "epochs": 70, "lr": 0.1, "milestones": (40, 60), "gamma": 0.1,
                          "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128},
    "block": {"optimizer": "sgd", "epochs": 300, "lr": 0.1, "milestones": (150, 225), "gamma": 0.1,
              "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128},
    "unet": {"optimizer": "sgd", "epochs": 300, "lr": 0.1, "milestones": (150, 225), "gamma": 0.1,
             "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128},
}
"""The seed paper's ITN training (SGD + momentum, MSE): pixel-wise 70 epochs, ÷10 at 40 and 60;
Tanaka / TN-model / TN-GAN 300 epochs, ÷10 at 150 and 225. ``conv1x1`` (not used by the paper's
ITN) takes the pixel-wise schedule."""
PAPER_ITN_SCHEDULES["conv1x1"] = dict(PAPER_ITN_SCHEDULES["locally_connected"])

OPTIMIZERS = ("adam", "sgd")

DEFAULT_LR: dict[str, dict[str, float]] = {
    "adam": {"locally_connected": 1e-2, "conv1x1": 1e-3, "block": 1e-3, "unet": 1e-3},
    "sgd": {"locally_connected": 0.1, "conv1x1": 0.1, "block": 0.1, "unet": 0.1},
}
"""Learning rate when ``lr=None``: SGD the paper's 0.1; AdamW 1e-2 for the locally connected net
(each pixel's weights see one sample per image, so they need large steps in a short run;
``bench/README.md``, ITN-Attack) and 1e-3 for the shared-weight nets."""


# ------------------------------------------------------------------------------------ layers


class LocallyConnected1x1(nn.Module):
    """A 1 × 1 locally connected layer: ``y[:, :, u, v] = W[u, v] @ x[:, :, u, v] + b[u, v]``.

    Like a 1 × 1 convolution, but every pixel position has its own weight matrix: ``weight`` is
    ``(H·W, out_channels, in_channels)`` (row-major positions), ``bias`` ``(H·W, out_channels)``.
    Applied to the whole batch with one ``einsum``. Initialised like ``nn.Conv2d`` (uniform in
    ``±1/sqrt(in_channels)``), independently per position.
    """

    def __init__(self, in_channels: int, out_channels: int, height: int, width: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.height = positive_int(height, "height")
        self.width = positive_int(width, "width")
        positions = self.height * self.width
        bound = 1.0 / math.sqrt(self.in_channels)
        self.weight = nn.Parameter(torch.empty(positions, self.out_channels, self.in_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(positions, self.out_channels).uniform_(-bound, bound)) if bias else None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, size=({self.height}, {self.width}), "
                f"bias={self.bias is not None}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if (c, h, w) != (self.in_channels, self.height, self.width):
            raise ValueError(f"this locally connected layer takes (N, {self.in_channels}, {self.height}, "
                             f"{self.width}) inputs, got {tuple(x.shape)}")
        y = torch.einsum("poi,nip->nop", self.weight, x.reshape(n, c, h * w))
        if self.bias is not None:
            y = y + self.bias.t()
        return y.reshape(n, self.out_channels, h, w)


def _widths(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, bool)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of positive ints, got {value!r}")
    return tuple(positive_int(v, name) for v in value)


class LocallyConnectedNet(nn.Module):
    """The pixel-wise ITN (seed Fig. 8): 1 × 1 locally connected layers ``C → hidden… → C``,
    BatchNorm (optional) + ReLU after each hidden layer, sigmoid output; [0, 1] in and out."""

    def __init__(self, channels: int, height: int, width: int, hidden: tuple[int, ...] = (32,),
                 batch_norm: bool = True) -> None:
        super().__init__()
        channels = positive_int(channels, "channels")
        hidden = _widths(hidden, "hidden")
        layers: list[nn.Module] = []
        cin = channels
        for cout in hidden:
            layers.append(LocallyConnected1x1(cin, cout, height, width))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            cin = cout
        layers.append(LocallyConnected1x1(cin, channels, height, width))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x * 2 - 1))


class PixelNet(nn.Module):
    """Shared 1 × 1 convolutions ``C → hidden… → C`` with BN + ReLU, sigmoid output (seed
    Fig. 6(b), proxy: 3 → 64 → 128 → 256 → 3): the GAN-Attack's pixel-wise generator."""

    def __init__(self, channels: int, hidden: tuple[int, ...] = (64, 128, 256)) -> None:
        super().__init__()
        channels = positive_int(channels, "channels")
        hidden = _widths(hidden, "hidden")
        layers: list[nn.Module] = []
        cin = channels
        for cout in hidden:
            layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        layers.append(nn.Conv2d(cin, channels, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x * 2 - 1))


class BlockNet(nn.Module):
    """The block-wise network (seed Fig. 6(a), proxy; Tanaka's adaptation network shape).

    ``Conv(C → widths[0], block × block, stride block)`` + BN + ReLU (one vector per block), then
    1 × 1 convs through ``widths[1:]`` with BN + ReLU (the last width must be a multiple of
    ``block²``), ``PixelShuffle(block)`` back to full resolution, ``1 × 1`` conv → C, sigmoid.
    Image sides must be multiples of ``block``.
    """

    def __init__(self, channels: int, block: int = 4, widths: tuple[int, ...] = (48, 48, 512)) -> None:
        super().__init__()
        channels = positive_int(channels, "channels")
        self.block = positive_int(block, "block")
        widths = _widths(widths, "widths")
        if widths[-1] % (block * block):
            raise ValueError(f"the last of widths ({widths[-1]}) must be a multiple of block² = {block * block}")
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], block, stride=block, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.PixelShuffle(block), nn.Conv2d(widths[-1] // (block * block), channels, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.block or w % self.block:
            raise ValueError(f"the block network needs image sides that are multiples of {self.block}, got {h}x{w}")
        return torch.sigmoid(self.body(x * 2 - 1))


def resolve_architecture(architecture: str, attack: str = "itn") -> str:
    """An architecture name from an architecture name or a registered scheme's name (the network its
    cipher class declares for ``attack``, :func:`scheme_networks`)."""
    if isinstance(architecture, str) and architecture in ARCHITECTURES:
        return architecture
    table = scheme_networks(attack)
    if isinstance(architecture, str) and architecture in table:
        return table[architecture]
    raise ValueError(f"architecture must be one of {ARCHITECTURES} or a scheme name {tuple(table)}, "
                     f"got {architecture!r}")


def build_network(architecture: str, channels: int, height: int, width: int, **options: Any) -> nn.Module:
    """A fresh [0, 1] → [0, 1] network of ``architecture`` for ``(channels, height, width)`` images.

    ``options`` override :data:`DEFAULT_ARCHITECTURES` (``hidden``, ``batch_norm`` for
    locally connected; ``hidden`` for conv1x1; ``block``, ``widths`` for block; ``base``,
    ``depth`` for unet). Weights come from the global torch RNG (seed it, or let the training
    functions do it).
    """
    name = resolve_architecture(architecture)
    settings = {**DEFAULT_ARCHITECTURES[name], **options}
    allowed = {"locally_connected": {"hidden", "batch_norm"}, "conv1x1": {"hidden"},
               "block": {"block", "widths"}, "unet": {"base", "depth"}}[name]
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)} for {name!r}; choose from {sorted(allowed)}")
    if name == "locally_connected":
        return LocallyConnectedNet(channels, height, width, **settings)
    if name == "conv1x1":
        return PixelNet(channels, **settings)
    if name == "block":
        block = settings.get("block", 4)
        if isinstance(block, int) and not isinstance(block, bool) and block > 0 and (height % block or width % block):
            raise ValueError(f"images are {height}x{width}; the block network needs sides that are multiples of {block}")
        return BlockNet(channels, **settings)
    net = UNet(channels, channels, **settings)
    if height % net.multiple or width % net.multiple:
        raise ValueError(f"images are {height}x{width}; the U-Net (depth {net.config['depth']}) needs sides that "
                         f"are multiples of {net.multiple}")
    return net


# ------------------------------------------------------------------------------------ results


@dataclass
class AttackResult(Result):
    """A trained reconstruction network and how it was trained (ITN- or GAN-Attack).

    ``train_loss``: per-epoch mean training loss (ITN: MSE on [0, 1] images; GAN-Attack: the
    generator's loss); ``test_loss`` / ``test_ssim``: per-epoch MSE and mean SSIM
    (:func:`imgleak.metrics.ssim`) of the reconstructions of the held-out pairs, when given
    (else empty). ``images_per_second``: training throughput. ``network``: the trained network
    (eval mode) — use :func:`reconstruct`. ``extra``: further per-epoch curves (GAN-Attack:
    ``d_loss``, ``d_real``, ``d_fake``); ``auxiliary``: other trained networks (GAN-Attack:
    the ``discriminator``). :meth:`to_dict` leaves out ``network`` and ``auxiliary``.
    """

    attack: str
    architecture: str
    train_loss: list[float]
    test_loss: list[float]
    test_ssim: list[float]
    seconds: float
    images_per_second: float
    n_train: int
    parameters: int
    settings: dict[str, Any]
    network: nn.Module | None = field(default=None, repr=False, compare=False)
    extra: dict[str, list[float]] = field(default_factory=dict)
    auxiliary: dict[str, nn.Module] = field(default_factory=dict, repr=False, compare=False)

    _not_data = ("network", "auxiliary")

    @property
    def final_test_ssim(self) -> float:
        """The last epoch's test SSIM (NaN without test pairs)."""
        return self.test_ssim[-1] if self.test_ssim else float("nan")


def reconstruct(result: AttackResult, cipher_images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """The attack's reconstructions of uint8 cipher images ``(C, H, W)`` or ``(N, C, H, W)``.

    Runs ``result.network`` (eval mode, no gradients, in batches) on its own device and returns
    uint8 images of the same shape on the inputs' device.
    """
    network = getattr(result, "network", None)
    if not isinstance(network, nn.Module):
        raise TypeError(f"result must be an AttackResult holding a trained network, got {type(result).__name__}")
    batch, single = as_image_batch(cipher_images, "cipher_images")
    shape = result.settings.get("image_shape")
    if shape is not None and list(batch.shape[1:]) != list(shape):
        raise ValueError(f"cipher_images must be shaped (N, {', '.join(map(str, shape))}) like the training "
                         f"images, got {tuple(batch.shape)}")
    batch_size = positive_int(batch_size, "batch_size")
    if batch.shape[0] == 0:
        return cipher_images.clone()
    out = run_network(network, batch, batch_size)
    if out.shape != batch.shape:
        raise ValueError(f"result.network turned cipher images {tuple(batch.shape)} into {tuple(out.shape)}; "
                         "a reconstruction network must keep the shape")
    return restore_rank(out, single)


def evaluate_attack(result: AttackResult, cipher_images: torch.Tensor, plain_images: torch.Tensor) -> dict[str, float]:
    """Mean SSIM and PSNR (dB; identical images count as 100 dB) of the reconstructions of
    ``cipher_images`` against uint8 ``plain_images``, as plain floats: ``{"ssim": …, "psnr": …}``."""
    as_image_batch(plain_images, "plain_images")
    if as_image_batch(cipher_images, "cipher_images")[0].shape[0] == 0:
        raise ValueError("cipher_images holds no images; the mean SSIM and PSNR need at least one")
    if plain_images.shape != cipher_images.shape:
        raise ValueError(f"plain_images must have the shape of cipher_images {tuple(cipher_images.shape)}, "
                         f"got {tuple(plain_images.shape)}")
    rec = reconstruct(result, cipher_images)
    plain = plain_images.to(rec.device)
    return {"ssim": float(ssim(rec, plain).mean()), "psnr": float(psnr(rec, plain).clamp(max=100).mean())}


# ------------------------------------------------------------------------------------ shared by both attacks


def image_pairs(cipher: Any, plain: Any, names: tuple[str, str], minimum: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Two uint8 batches of one shape, of at least ``minimum`` images (``names`` for the messages)."""
    c = image_set(cipher, names[0], minimum)
    p = image_set(plain, names[1], minimum)
    if c.shape != p.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be pairs of one shape, got {tuple(c.shape)} and "
                         f"{tuple(p.shape)}")
    return c, p


def held_out_pairs(test_cipher: Any, test_plain: Any, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The optional held-out pairs ``(E(Q), Q)``, shaped like training images of ``shape``; ``None`` without."""
    if test_cipher is None and test_plain is None:
        return None
    if test_cipher is None or test_plain is None:
        raise ValueError("give both test_cipher_images and test_plain_images, or neither")
    c, p = image_pairs(test_cipher, test_plain, ("test_cipher_images", "test_plain_images"), minimum=1)
    if c.shape[1:] != shape[1:]:
        raise ValueError(f"test images must be shaped (N, {', '.join(map(str, shape[1:]))}) like the training "
                         f"images, got {tuple(c.shape)}")
    return c, p


def evaluate_pairs(network: nn.Module, cipher: torch.Tensor, plain: torch.Tensor) -> tuple[float, float]:
    """(MSE on [0, 1], mean SSIM) of the network's reconstructions; network left in eval mode."""
    rec = run_network(network, cipher, 256)
    mse = float(F.mse_loss(to_unit(rec), to_unit(plain)))
    score = float(ssim(rec, plain).mean()) if min(plain.shape[-2:]) >= 7 else float("nan")
    return mse, score


def append_test_scores(network: nn.Module, test_d: tuple[torch.Tensor, torch.Tensor] | None,
                 curves: dict[str, list[float]], **postfix: str) -> dict[str, str]:
    """Append the held-out MSE and SSIM (when there are test pairs); the progress bar's postfix."""
    if test_d is not None:
        mse, score = evaluate_pairs(network, *test_d)
        curves["test_loss"].append(mse)
        curves["test_ssim"].append(score)
        postfix["test_ssim"] = f"{score:.3f}"
    return postfix


def check_architecture(architecture: Any, options: Any, shape: tuple[int, int, int],
                       attack: str = "itn") -> tuple[str, dict[str, Any]]:
    """The architecture's name (a ready ``nn.Module``: its class name) and the network options to
    record. A named one is built once for ``(C, H, W)`` images (the global RNG untouched), so bad
    options and sizes fail before any training."""
    if isinstance(architecture, nn.Module):
        if options:
            raise TypeError("options apply only to a named architecture, not to a ready nn.Module")
        name = type(architecture).__name__
    elif isinstance(architecture, str):
        name = resolve_architecture(architecture, attack)
    else:
        raise TypeError(f"architecture must be a name or an nn.Module, got {type(architecture).__name__}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    if isinstance(architecture, nn.Module):
        return name, {}
    with torch.random.fork_rng(devices=[]):
        build_network(name, *shape, **(options or {}))
    return name, {**DEFAULT_ARCHITECTURES[name], **(options or {})}


def attack_network(architecture: str | nn.Module, config: Any) -> nn.Module:
    """A ready module as given, or a fresh network of ``config.architecture`` with ``config.options``."""
    if isinstance(architecture, nn.Module):
        return architecture
    return build_network(config.architecture, *config.image_shape, **config.options)


# ------------------------------------------------------------------------------------ ITN-Attack


@dataclass(frozen=True, kw_only=True)
class ITNConfig(TrainingSettings):
    """The settings of :func:`train_inverse_network`, each with its default; ``asdict()`` of the
    run's filled copy (:meth:`for_data`) is the result's ``settings``.

    Chosen by the caller (and :class:`~imgleak.training.run_settings.TrainingSettings`'s ``seed``
    (``None`` draws one), ``device``, ``num_threads``):

    * ``epochs``, ``batch_size``: passes over the pairs (reshuffled every epoch; a trailing batch of
      one is dropped) and minibatch size. Paper: see :data:`PAPER_ITN_SCHEDULES`;
    * ``optimizer``, ``lr``: ``"adam"`` (AdamW, decoupled weight decay) or ``"sgd"`` (momentum, L2
      weight decay; the paper's), recorded (and also accepted) as ``"AdamW"``/``"SGD"``.
      ``lr=None`` takes :data:`DEFAULT_LR` (SGD 0.1; AdamW 1e-2 for the locally connected net, 1e-3
      otherwise). See the module docstring for why;
    * ``milestones``, ``gamma``: epochs (1-based ends of epochs) after which the lr is multiplied by
      ``gamma``. ``None``: the paper's milestones at the same fractions of ``epochs`` (4/7, 6/7 for
      the locally connected/conv1x1 nets, 1/2, 3/4 otherwise); ``()``: constant lr;
    * ``momentum``, ``weight_decay``: SGD's momentum (recorded ``None`` with AdamW, which has none);
      weight decay (SGD: L2 added to the gradient; AdamW: decoupled) — paper: 0.9, 5e-4;
    * ``options``: network options for :func:`build_network` (default :data:`DEFAULT_ARCHITECTURES`).

    Filled by :meth:`for_data`: ``architecture`` (the network's name), ``options`` (all of them),
    ``lr``, ``milestones``, ``image_shape``, ``n_test`` (held-out pairs).
    """

    architecture: str | None = field(default=None, init=False)
    options: dict[str, Any] | None = None
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    milestones: tuple[int, ...] | list[int] | None = None
    gamma: float = 0.1
    momentum: float | None = 0.9
    weight_decay: float = 5e-4
    loss: str = field(default="MSE on [0, 1] images", init=False)
    image_shape: list[int] | None = field(default=None, init=False)
    n_test: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        recorded = {"AdamW": "adam", "SGD": "sgd"}  # a settings record's names replay
        self._set("optimizer", choice(recorded.get(self.optimizer, self.optimizer), "optimizer", OPTIMIZERS))
        if self.milestones is not None:
            if isinstance(self.milestones, (str, bytes)) or not isinstance(self.milestones, (tuple, list)):
                raise TypeError(f"milestones must be a tuple of epochs or None, got {self.milestones!r}")
            self._set("milestones", [positive_int(m, "milestones") for m in self.milestones])
        self._set("gamma", number(self.gamma, "gamma", positive=True))
        if self.momentum is not None or self.optimizer == "sgd":
            self._set("momentum", number(self.momentum, "momentum"))
        self._set("weight_decay", number(self.weight_decay, "weight_decay"))

    def for_data(self, architecture: str | nn.Module, c: torch.Tensor,
                 test: tuple[torch.Tensor, torch.Tensor] | None) -> ITNConfig:
        """This config filled for ``architecture`` trained on cipher images ``c`` (and ``test`` pairs)."""
        name, recorded = check_architecture(architecture, self.options, tuple(c.shape[1:]))
        adam = self.optimizer == "adam"
        lr = DEFAULT_LR[self.optimizer].get(name, 1e-3 if adam else 0.1) if self.lr is None else self.lr
        return filled(self, architecture=name, options=recorded, optimizer="AdamW" if adam else "SGD", lr=lr,
                      milestones=_milestones(name, self.epochs) if self.milestones is None else self.milestones,
                      momentum=None if adam else self.momentum, image_shape=list(c.shape[1:]),
                      n_test=0 if test is None else int(test[0].shape[0]))


def _milestones(name: str, epochs: int) -> list[int]:
    """The paper's milestones at the same fractions of ``epochs`` (see :class:`ITNConfig`)."""
    fractions = (4 / 7, 6 / 7) if name in ("locally_connected", "conv1x1") else (1 / 2, 3 / 4)
    return sorted({round(f * epochs) for f in fractions} - {0, epochs})


def _itn_epoch(network: nn.Module, opt: torch.optim.Optimizer, cd: torch.Tensor, pd: torch.Tensor, batch_size: int,
               generator: torch.Generator) -> tuple[float, int]:
    """One pass over the pairs: the mean MSE and the number of images."""
    network.train()
    total = torch.zeros((), dtype=torch.float64, device=cd.device)
    count = 0
    for rows in shuffled_batches(cd.shape[0], batch_size, generator):
        rows = rows.to(cd.device)
        loss = F.mse_loss(network(to_unit(cd[rows])), to_unit(pd[rows]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach().double() * rows.numel()
        count += rows.numel()
    return float(total) / count, count


def _itn_optimizer(network: nn.Module, config: ITNConfig) -> tuple[torch.optim.Optimizer, Any]:
    if config.optimizer == "SGD":
        opt = torch.optim.SGD(network.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay)
    else:
        opt = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.milestones), gamma=config.gamma)


def train_inverse_network(
    cipher_images: torch.Tensor,
    plain_images: torch.Tensor,
    architecture: str | nn.Module = "pixelwise",
    config: ITNConfig = ITNConfig(),
    *,
    test_cipher_images: torch.Tensor | None = None,
    test_plain_images: torch.Tensor | None = None,
    progress: bool = True,
    **overrides: Any,
) -> AttackResult:
    """ITN-Attack: train a network to map cipher images to their plain images (MSE).

    Parameters
    ----------
    cipher_images, plain_images
        The known pairs, uint8 ``(N, C, H, W)`` of one shape (``N >= 2``).
    architecture
        ``"locally_connected"``, ``"conv1x1"``, ``"block"``, ``"unet"``, a scheme name
        (``"pixelwise"``, ``"blockwise"``, ``"etc"``, ``"tn_model"``, ``"tn_gan"``: the paper's
        choice, :func:`scheme_networks`) or a ready ``nn.Module`` mapping [0, 1] images to
        [0, 1] images (trained in place).
    config, overrides
        The settings (:class:`ITNConfig`, where each is described), with any keyword ``overrides``
        of its fields applied. The seed seeds the initialisation and the batches (the caller's RNG
        state is restored).
    test_cipher_images, test_plain_images
        Optional held-out pairs: their MSE and mean SSIM are recorded after every epoch.
    progress
        A tqdm bar over epochs.

    Returns
    -------
    AttackResult
        ``attack="itn"``; pass it to :func:`reconstruct` or :func:`evaluate_attack`. Its
        ``settings`` are ``asdict`` of the run's filled :class:`ITNConfig`.

    >>> x = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    >>> result = train_inverse_network(255 - x, x, "conv1x1", epochs=2, device="cpu", progress=False)
    >>> result.settings["optimizer"], result.settings["lr"], len(result.train_loss)
    ('AdamW', 0.001, 2)
    """
    config = configured(config, ITNConfig, overrides)
    c, p = image_pairs(cipher_images, plain_images, ("cipher_images", "plain_images"))
    test = held_out_pairs(test_cipher_images, test_plain_images, c.shape)
    config = config.for_data(architecture, c, test)
    return _run_itn(architecture, c, p, test, config, boolean(progress, "progress"))


def _run_itn(architecture: str | nn.Module, c: torch.Tensor, p: torch.Tensor,
             test: tuple[torch.Tensor, torch.Tensor] | None, config: ITNConfig, progress: bool) -> AttackResult:
    start = time.perf_counter()
    device = torch.device(config.device)
    with seeded_training(config.seed, device, config.num_threads):
        network = attack_network(architecture, config).to(device)
        parameters = sum(q.numel() for q in network.parameters())
        opt, scheduler = _itn_optimizer(network, config)
        generator = torch.Generator().manual_seed(config.seed + 1)
        cd, pd = c.to(device), p.to(device)
        test_d = None if test is None else (test[0].to(device), test[1].to(device))
        curves: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "test_ssim": []}
        clock = EpochClock()
        bar = tqdm(range(config.epochs), desc=f"ITN ({config.architecture})", disable=not progress)
        for _ in bar:
            started = time.perf_counter()
            mse, count = _itn_epoch(network, opt, cd, pd, config.batch_size, generator)
            scheduler.step()
            clock.add(started, count)
            curves["train_loss"].append(finite(mse, "the ITN training loss"))
            bar.set_postfix(append_test_scores(network, test_d, curves, mse=f"{mse:.4f}"))
        bar.close()
        network.eval()
    return AttackResult(attack="itn", architecture=config.architecture, **curves,
                        seconds=time.perf_counter() - start, images_per_second=clock.images_per_second,
                        n_train=int(c.shape[0]), parameters=parameters, settings=asdict(config), network=network)


__all__ = [
    "ARCHITECTURES", "ATTACKS", "DEFAULT_ARCHITECTURES", "DEFAULT_LR", "ITNConfig", "OPTIMIZERS",
    "PAPER_ARCHITECTURES", "PAPER_ITN_SCHEDULES", "AttackResult", "BlockNet", "LocallyConnected1x1",
    "LocallyConnectedNet", "PixelNet", "append_test_scores", "attack_network", "build_network", "check_architecture",
    "evaluate_attack", "evaluate_pairs", "held_out_pairs", "image_pairs", "reconstruct", "resolve_architecture",
    "scheme_networks", "train_inverse_network",
]
