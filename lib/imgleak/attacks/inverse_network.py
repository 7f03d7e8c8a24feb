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
    :class:`imgleak.ciphers.transform_nets.UNet`.

Scheme names pick the paper's choice: ``architecture="pixelwise"`` → locally connected,
``"blockwise"`` → block, ``"tn_model"``/``"tn_gan"`` → U-Net (:data:`ITN_ARCHITECTURES`).

Training (:func:`train_inverse_network`): SGD with momentum 0.9, weight decay 5e-4, MSE on
[0, 1] images, learning rate divided by 10 at fixed epochs. The paper's schedules are
:data:`PAPER_ITN_SCHEDULES` (pixel-wise: 70 epochs, lr 0.1, ÷10 at 40 and 60; the others:
300 epochs, ÷10 at 150 and 225; batch 128). The function defaults are small-scale (10 epochs,
the milestones at the same fractions of the run) and use **AdamW** (:data:`DEFAULT_LR`, decoupled
weight decay 5e-4). The reason is the locally connected layer: with a loss averaged over all
pixels, each pixel's own weights receive a gradient ``H·W`` times smaller than a shared weight
would, so SGD barely moves them in a short run, and an L2 term added to the gradient (SGD's or
Adam's ``weight_decay``) outweighs it. Measured on 384 same-key 32 × 32 crops, 5 epochs, test
SSIM: SGD lr 0.1 0.06 (with or without weight decay), SGD lr 1.0 0.13, Adam with L2 decay 0.46,
AdamW 0.69 (lr 1e-2 for both). On 512 crops of 96 × 96: Adam with L2 decay 0.30, AdamW 0.82.
``optimizer="sgd"`` with the paper's settings is one argument away.

:func:`reconstruct` runs a trained network (ITN or GAN-Attack generator) on cipher images and
returns uint8 images; :func:`evaluate_attack` gives mean SSIM and PSNR against the plain images.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..ciphers.transform_nets import (
    UNet,
    _batches,
    _finite,
    _image_set,
    _number,
    _positive_int,
    _run_network,
    _seed,
    _threads,
    _training,
    _unit,
)
from ..tensors import as_image_batch, resolve_device, restore_rank

ARCHITECTURES = ("locally_connected", "conv1x1", "block", "unet")
"""Network shapes :func:`build_network` makes."""

ITN_ARCHITECTURES = {"pixelwise": "locally_connected", "blockwise": "block", "etc": "block",
                     "tn_model": "unet", "tn_gan": "unet"}
"""The ITN-Attack's network for each scheme (seed paper; EtC is our addition)."""

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
"""Network options used when ``options`` is not given (small, for a CPU: the paper-sized
locally connected net trains at about 8 images/s on one core at 96 × 96, the paper-sized 1 × 1
generator makes the GAN-Attack about 4 times slower than these)."""

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
(each pixel's weights see one sample per image, so they need large steps in a short run; 1e-3
reached test SSIM 0.20 after 5 epochs on 384 same-key 32 × 32 crops where 1e-2 reached 0.69)
and 1e-3 for the shared-weight nets."""


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
        self.in_channels = _positive_int(in_channels, "in_channels")
        self.out_channels = _positive_int(out_channels, "out_channels")
        self.height = _positive_int(height, "height")
        self.width = _positive_int(width, "width")
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
    return tuple(_positive_int(v, name) for v in value)


class LocallyConnectedNet(nn.Module):
    """The pixel-wise ITN (seed Fig. 8): 1 × 1 locally connected layers ``C → hidden… → C``,
    BatchNorm (optional) + ReLU after each hidden layer, sigmoid output; [0, 1] in and out."""

    def __init__(self, channels: int, height: int, width: int, hidden: tuple[int, ...] = (32,),
                 batch_norm: bool = True) -> None:
        super().__init__()
        channels = _positive_int(channels, "channels")
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
        channels = _positive_int(channels, "channels")
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
        channels = _positive_int(channels, "channels")
        self.block = _positive_int(block, "block")
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


def resolve_architecture(architecture: str, table: dict[str, str] = ITN_ARCHITECTURES) -> str:
    """An architecture name from an architecture or scheme name (``table`` maps schemes)."""
    if isinstance(architecture, str) and architecture in ARCHITECTURES:
        return architecture
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
class AttackResult:
    """A trained reconstruction network and how it was trained (ITN- or GAN-Attack).

    ``train_loss``: per-epoch mean training loss (ITN: MSE on [0, 1] images; GAN-Attack: the
    generator's loss); ``test_loss`` / ``test_ssim``: per-epoch MSE and mean SSIM
    (:func:`imgleak.metrics.ssim`) of the reconstructions of the held-out pairs, when given
    (else empty). ``images_per_second``: training throughput. ``network``: the trained network
    (eval mode) — use :func:`reconstruct`. ``extra``: further per-epoch curves (GAN-Attack:
    ``d_loss``, ``d_real``, ``d_fake``); ``auxiliary``: other trained networks (GAN-Attack:
    the ``discriminator``).
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

    @property
    def final_test_ssim(self) -> float:
        """The last epoch's test SSIM (NaN without test pairs)."""
        return self.test_ssim[-1] if self.test_ssim else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The numbers and settings (no network) as plain Python values."""
        return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                for k, v in self.__dict__.items() if k not in ("network", "auxiliary")}


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
    batch_size = _positive_int(batch_size, "batch_size")
    if batch.shape[0] == 0:
        return cipher_images.clone()
    return restore_rank(_run_network(network, batch, batch_size), single)


def evaluate_attack(result: AttackResult, cipher_images: torch.Tensor, plain_images: torch.Tensor) -> dict[str, float]:
    """Mean SSIM and PSNR (dB; identical images count as 100 dB) of the reconstructions of
    ``cipher_images`` against ``plain_images``, as plain floats: ``{"ssim": …, "psnr": …}``."""
    from ..metrics import psnr, ssim

    rec = reconstruct(result, cipher_images)
    if plain_images.shape != rec.shape:
        raise ValueError(f"plain_images must have the shape of cipher_images {tuple(rec.shape)}, "
                         f"got {tuple(plain_images.shape)}")
    plain = plain_images.to(rec.device)
    return {"ssim": float(ssim(rec, plain).mean()), "psnr": float(psnr(rec, plain).clamp(max=100).mean())}


# ------------------------------------------------------------------------------------ training


def _pairs(cipher: Any, plain: Any, names: tuple[str, str], minimum: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    c = _image_set(cipher, names[0], minimum)
    p = _image_set(plain, names[1], minimum)
    if c.shape != p.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be pairs of one shape, got {tuple(c.shape)} and "
                         f"{tuple(p.shape)}")
    return c, p


def _test_pairs(test_cipher: Any, test_plain: Any, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor] | None:
    if test_cipher is None and test_plain is None:
        return None
    if test_cipher is None or test_plain is None:
        raise ValueError("give both test_cipher_images and test_plain_images, or neither")
    c, p = _pairs(test_cipher, test_plain, ("test_cipher_images", "test_plain_images"), minimum=1)
    if c.shape[1:] != shape[1:]:
        raise ValueError(f"test images must be shaped (N, {', '.join(map(str, shape[1:]))}) like the training "
                         f"images, got {tuple(c.shape)}")
    return c, p


def _evaluate_pairs(network: nn.Module, cipher: torch.Tensor, plain: torch.Tensor) -> tuple[float, float]:
    """(MSE on [0, 1], mean SSIM) of the network's reconstructions; network left in eval mode."""
    from ..metrics import ssim

    rec = _run_network(network, cipher, 256)
    mse = float(F.mse_loss(_unit(rec), _unit(plain)))
    score = float(ssim(rec, plain).mean()) if min(plain.shape[-2:]) >= 7 else float("nan")
    return mse, score


def train_inverse_network(
    cipher_images: torch.Tensor,
    plain_images: torch.Tensor,
    architecture: str | nn.Module = "pixelwise",
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float | None = None,
    optimizer: str = "adam",
    milestones: tuple[int, ...] | None = None,
    gamma: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    options: dict[str, Any] | None = None,
    test_cipher_images: torch.Tensor | None = None,
    test_plain_images: torch.Tensor | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    num_threads: int | None = None,
) -> AttackResult:
    """ITN-Attack: train a network to map cipher images to their plain images (MSE).

    Parameters
    ----------
    cipher_images, plain_images
        The known pairs, uint8 ``(N, C, H, W)`` of one shape (``N >= 2``).
    architecture
        ``"locally_connected"``, ``"conv1x1"``, ``"block"``, ``"unet"``, a scheme name
        (``"pixelwise"``, ``"blockwise"``, ``"etc"``, ``"tn_model"``, ``"tn_gan"``: the paper's
        choice, :data:`ITN_ARCHITECTURES`) or a ready ``nn.Module`` mapping [0, 1] images to
        [0, 1] images (trained in place).
    epochs, batch_size
        Passes over the pairs (reshuffled every epoch; a trailing batch of one is dropped) and
        minibatch size. Paper: see :data:`PAPER_ITN_SCHEDULES`.
    lr, optimizer
        ``"adam"`` (default: AdamW, decoupled weight decay) or ``"sgd"`` (momentum, L2 weight
        decay; the paper's). ``lr=None`` takes :data:`DEFAULT_LR` (SGD 0.1; AdamW 1e-2 for the
        locally connected net, 1e-3 otherwise). See the module docstring for why.
    milestones, gamma
        Epochs (1-based ends of epochs) after which the lr is multiplied by ``gamma``. ``None``:
        the paper's milestones at the same fractions of ``epochs`` (4/7, 6/7 for the
        locally connected/conv1x1 nets, 1/2, 3/4 otherwise); ``()``: constant lr.
    momentum, weight_decay
        SGD's momentum; weight decay (SGD: L2 added to the gradient; AdamW: decoupled) — paper:
        0.9, 5e-4.
    options
        Network options for :func:`build_network` (default :data:`DEFAULT_ARCHITECTURES`).
    test_cipher_images, test_plain_images
        Optional held-out pairs: their MSE and mean SSIM are recorded after every epoch.
    seed, device, progress, num_threads
        Seeded initialisation and batches (caller's RNG state restored); ``"auto"`` device;
        tqdm bar over epochs; CPU threads for this run only (1 is often fastest on a busy CPU).

    Returns
    -------
    AttackResult
        ``attack="itn"``; pass it to :func:`reconstruct` or :func:`evaluate_attack`.
    """
    c, p = _pairs(cipher_images, plain_images, ("cipher_images", "plain_images"))
    test = _test_pairs(test_cipher_images, test_plain_images, c.shape)
    if isinstance(architecture, nn.Module):
        arch_name = type(architecture).__name__
        if options:
            raise TypeError("options apply only to a named architecture, not to a ready nn.Module")
    elif isinstance(architecture, str):
        arch_name = resolve_architecture(architecture)
    else:
        raise TypeError(f"architecture must be a name or an nn.Module, got {type(architecture).__name__}")
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    lr = _number(DEFAULT_LR[optimizer].get(arch_name, 1e-3 if optimizer == "adam" else 0.1) if lr is None else lr,
                 "lr", positive=True)
    gamma = _number(gamma, "gamma", positive=True)
    momentum = _number(momentum, "momentum")
    weight_decay = _number(weight_decay, "weight_decay")
    if milestones is None:
        fractions = (4 / 7, 6 / 7) if arch_name in ("locally_connected", "conv1x1") else (1 / 2, 3 / 4)
        milestones = tuple(sorted({round(f * epochs) for f in fractions} - {0, epochs}))
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, (tuple, list)):
        raise TypeError(f"milestones must be a tuple of epochs or None, got {milestones!r}")
    milestones = tuple(_positive_int(m, "milestones") for m in milestones)
    seed = _seed(seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)
    if isinstance(architecture, str):  # fail on bad options/sizes before any work
        with torch.random.fork_rng(devices=[]):
            build_network(arch_name, c.shape[1], c.shape[2], c.shape[3], **(options or {}))

    start = time.perf_counter()
    with _training(seed, device, num_threads):
        if isinstance(architecture, nn.Module):
            network = architecture.to(device)
        else:
            network = build_network(arch_name, c.shape[1], c.shape[2], c.shape[3], **(options or {})).to(device)
        parameters = sum(q.numel() for q in network.parameters())
        if optimizer == "sgd":
            opt = torch.optim.SGD(network.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        else:
            opt = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=gamma)
        generator = torch.Generator().manual_seed(seed + 1)
        cd, pd = c.to(device), p.to(device)
        test_d = None if test is None else (test[0].to(device), test[1].to(device))
        train_loss: list[float] = []
        test_loss: list[float] = []
        test_ssim: list[float] = []
        seen, train_seconds = 0, 0.0
        bar = tqdm(range(epochs), desc=f"ITN ({arch_name})", disable=not progress)
        for _ in bar:
            network.train()
            total = torch.zeros((), dtype=torch.float64, device=device)
            count = 0
            t0 = time.perf_counter()
            for rows in _batches(c.shape[0], batch_size, generator):
                rows = rows.to(device)
                loss = F.mse_loss(network(_unit(cd[rows])), _unit(pd[rows]))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach().double() * rows.numel()
                count += rows.numel()
            scheduler.step()
            train_seconds += time.perf_counter() - t0
            seen += count
            train_loss.append(_finite(float(total) / count, "the ITN training loss"))
            postfix = {"mse": f"{train_loss[-1]:.4f}"}
            if test_d is not None:
                mse, score = _evaluate_pairs(network, *test_d)
                test_loss.append(mse)
                test_ssim.append(score)
                postfix["test_ssim"] = f"{score:.3f}"
            bar.set_postfix(postfix)
        bar.close()
        network.eval()

    settings = {
        "architecture": arch_name, "options": {**DEFAULT_ARCHITECTURES.get(arch_name, {}), **(options or {})},
        "epochs": epochs, "batch_size": batch_size, "optimizer": "AdamW" if optimizer == "adam" else "SGD", "lr": lr,
        "milestones": list(milestones), "gamma": gamma, "momentum": momentum if optimizer == "sgd" else None,
        "weight_decay": weight_decay, "loss": "MSE on [0, 1] images", "image_shape": [int(s) for s in c.shape[1:]],
        "n_test": 0 if test is None else int(test[0].shape[0]), "seed": seed, "device": str(device),
        "num_threads": num_threads,
    }
    if isinstance(architecture, nn.Module):
        settings["options"] = {}
    return AttackResult(
        attack="itn", architecture=arch_name, train_loss=train_loss, test_loss=test_loss, test_ssim=test_ssim,
        seconds=time.perf_counter() - start, images_per_second=seen / max(train_seconds, 1e-9),
        n_train=int(c.shape[0]), parameters=parameters, settings=settings, network=network,
    )


__all__ = [
    "ARCHITECTURES", "DEFAULT_ARCHITECTURES", "DEFAULT_LR", "ITN_ARCHITECTURES", "OPTIMIZERS", "PAPER_ARCHITECTURES",
    "PAPER_ITN_SCHEDULES", "AttackResult", "BlockNet", "LocallyConnected1x1", "LocallyConnectedNet", "PixelNet",
    "build_network", "evaluate_attack", "reconstruct", "resolve_architecture", "train_inverse_network",
]
