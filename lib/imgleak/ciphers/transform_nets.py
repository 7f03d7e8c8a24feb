"""Keyless "ciphers" made of trained networks: the TN-model and TN-GAN, and their building blocks.

Both protect an image by passing it through a trained image-to-image network (a small U-Net);
there is no key, so brute force does not apply, and the network is not invertible by design
(``invertible = False``). What protects the images is that the weights stay private: whoever
holds them can make (plain, protected) pairs and train an inverse (the ITN-Attack,
:mod:`imgleak.attacks.inverse_network`).

TN-model (Ito, Kinoshita & Kiya, GCCE 2020, arXiv 2008.03143) — :func:`train_tn_model`
    A U-Net ``T`` trained on plain images so that a classifier ``f`` **pre-trained on plain
    images and frozen** still classifies ``T(x)`` correctly, while ``T(x)`` looks unlike ``x``::

        loss = CE(f(T(x)), y) − λ · d(T(x), x),   d = MSE (default) or 1 − SSIM

    (our reading of the paper's two terms; the exact loss is not verified — see
    ``reference/learnable-encryption-attacks.md`` §1.3). The protected images serve a model
    trained on plain images: they are for **testing**, not for training a new model. Labels:
    any class labels; the chapter's default data (:func:`imgleak.attacks.datasets.photo_crops`)
    label every crop with the **index of its source photo** (the classifier learns which
    training photo a crop comes from). When no classifier is given, a small CNN
    (:class:`SmallClassifier`) is trained on the plain images first (Adam, ``classifier_epochs``).

TN-GAN (Sirichotedumrong & Kiya, EUSIPCO 2020, arXiv 2006.01342) — :func:`train_tn_gan`
    An **unpaired** plain → protected translation trained CycleGAN-style (Zhu et al. 2017) at
    small scale: generators ``G`` (plain → protected, the cipher) and ``F`` (protected → plain),
    both U-Nets, two DCGAN-style patch discriminators, least-squares GAN losses and an L1 cycle
    loss (weight ``cycle_weight``, CycleGAN's 10). The "protected" target domain is images
    encrypted by a conventional perceptual encryption — assumption, as the paper's exact target
    is not verified: by default **pixel-wise encryption with a different key per image**
    (:class:`~imgleak.ciphers.pixelwise.PixelwiseEncryption` ``("different")``) applied to a
    disjoint half of the training images, so that the two domains share no image. Protected
    images can be used for training and testing (the same fixed network transforms every image).

Building blocks shared with the attacks: :class:`UNet` (the TN generator and the ITN/GAN-Attack
network for TN images), :class:`Discriminator` (DCGAN-style, Fig. 5 of the seed paper),
:class:`SmallClassifier`, :func:`soft_ssim` (a differentiable SSIM). All networks take float
images in [0, 1] (``uint8 / 255``), map them to [−1, 1] inside, and (generators) return [0, 1]
through a sigmoid — ``sigmoid(2z) = (tanh(z) + 1) / 2``, the same as a DCGAN tanh output.

Weights: ``TransformNet.save(path)`` / ``TransformNet.load(path)`` (a ``torch.save`` file with
the U-Net's configuration and ``state_dict``; loaded with ``weights_only=True``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..keys import Key
from ..tensors import as_image_batch, resolve_device, restore_rank

KINDS = ("tn_model", "tn_gan")
"""The names a :class:`TransformNet` can carry."""

DISSIMILARITIES = ("mse", "ssim")
"""The TN-model's dissimilarity terms: mean squared error, or 1 − SSIM (7 × 7 window)."""

PAPER_TN_GAN = {"lr": 2e-4, "beta1": 0.5, "cycle_weight": 10.0}
"""CycleGAN's optimiser and cycle weight (Zhu et al. 2017), used for the TN-GAN here."""

_FORMAT = "imgleak.transform_net/1"


# ------------------------------------------------------------------------------ shared checks


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _number(value: Any, name: str, *, positive: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
    if bad or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} finite number, got {value!r}")
    return float(value)


def _adam_schedule(epochs: Any, batch_size: Any, lr: Any, beta1: Any) -> tuple[int, int, float, float]:
    """Epochs, batch size, Adam learning rate and beta1 of a GAN run, checked."""
    beta1 = _number(beta1, "beta1")
    if beta1 >= 1:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1}")
    return (_positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size"),
            _number(lr, "lr", positive=True), beta1)


def _seed(seed: Any) -> int:
    if seed is None:
        return int.from_bytes(os.urandom(8), "little") >> 1
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return int(seed)


def _threads(num_threads: Any) -> int | None:
    return None if num_threads is None else _positive_int(num_threads, "num_threads")


def _image_set(x: Any, name: str, minimum: int = 2) -> torch.Tensor:
    """``x`` checked as a uint8 batch ``(N, C, H, W)`` with at least ``minimum`` images."""
    if isinstance(x, torch.Tensor) and x.dim() == 3:
        raise ValueError(f"{name} must be a batch shaped (N, C, H, W), got a single image {tuple(x.shape)}")
    batch, _ = as_image_batch(x, name)
    if batch.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} images, got {batch.shape[0]}")
    if batch.shape[1] == 0:
        raise ValueError(f"{name} has no channels: {tuple(batch.shape)}")
    return batch


def _labels(y: Any, n: int, name: str) -> torch.Tensor:
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
        got = y.dtype if isinstance(y, torch.Tensor) else type(y).__name__
        raise TypeError(f"{name} must be a torch.int64 tensor shaped (N,), got {got}")
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be shaped (N,) with N = {n} (the number of images), got {tuple(y.shape)}")
    if int(y.min()) < 0:
        raise ValueError(f"{name} must be class indices >= 0, got {int(y.min())}")
    return y


@contextmanager
def _training(seed: int, device: torch.device, num_threads: int | None) -> Iterator[None]:
    """Threads set (and restored), the global RNG forked and seeded (and restored)."""
    before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    fork = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=fork):
            torch.random.default_generator.manual_seed(seed)
            if device.type == "cuda":
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(before)


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A seeded shuffle of ``range(n)`` in batches; a trailing batch of one is dropped (BatchNorm)."""
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(min(batch_size, n)))
    if len(batches) > 1 and batches[-1].numel() == 1:
        batches.pop()
    return batches


def _unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 → float32 in [0, 1]."""
    return x.float().div_(255.0)


def _to_uint8(y: torch.Tensor) -> torch.Tensor:
    """float in [0, 1] → uint8 (rounded, clamped)."""
    return y.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def _check_unet_fits(x: torch.Tensor, base: Any, depth: Any) -> None:
    """``ValueError`` unless ``base``/``depth`` are positive ints and the sides of ``x`` multiples of ``2 ** depth``."""
    _positive_int(base, "base")
    multiple = 2 ** _positive_int(depth, "depth")
    if x.shape[-2] % multiple or x.shape[-1] % multiple:
        raise ValueError(f"images are {x.shape[-2]}x{x.shape[-1]}; with depth={depth} the sides must be multiples "
                         f"of {multiple}")


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"{what} became {value} (diverged): lower the learning rate")
    return value


def _run_network(network: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """A [0, 1] → [0, 1] network on a uint8 batch, in eval mode and batches; uint8 out on x's device."""
    device = next(network.parameters()).device
    network.eval()
    outs = []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            outs.append(_to_uint8(network(_unit(x[start:start + batch_size].to(device)))).to(x.device))
    return torch.cat(outs)


# ------------------------------------------------------------------------------------ networks


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A small U-Net (Ronneberger et al. 2015): [0, 1] images in, [0, 1] images out.

    ``depth`` levels of (2 × 2 max-pool, two 3 × 3 conv + BN + ReLU) doubling the width from
    ``base``, then as many (2 × 2 transposed conv, concatenation with the skip, two 3 × 3 conv +
    BN + ReLU), a 1 × 1 conv and a sigmoid. Image sides must be multiples of ``2 ** depth``.
    Defaults (base 16, depth 3): 0.47 M parameters.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        in_channels = _positive_int(in_channels, "in_channels")
        out_channels = _positive_int(out_channels, "out_channels")
        base = _positive_int(base, "base")
        depth = _positive_int(depth, "depth")
        self.config = {"in_channels": in_channels, "out_channels": out_channels, "base": base, "depth": depth}
        self.inc = _double_conv(in_channels, base)
        self.downs = nn.ModuleList()
        width = base
        for _ in range(depth):
            self.downs.append(nn.Sequential(nn.MaxPool2d(2), _double_conv(width, 2 * width)))
            width *= 2
        self.ups = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for _ in range(depth):
            self.ups.append(nn.ConvTranspose2d(width, width // 2, 2, stride=2))
            self.up_convs.append(_double_conv(width, width // 2))
            width //= 2
        self.out = nn.Conv2d(base, out_channels, 1)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (``2 ** depth``)."""
        return 2 ** self.config["depth"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        if h % m or w % m:
            raise ValueError(
                f"the U-Net (depth {self.config['depth']}) needs image sides that are multiples of {m}, got {h}x{w}"
            )
        if x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"the U-Net expects {self.config['in_channels']} channels, got {x.shape[1]}")
        feature = self.inc(x * 2 - 1)
        skips = []
        for down in self.downs:
            skips.append(feature)
            feature = down(feature)
        for up, conv in zip(self.ups, self.up_convs):
            feature = conv(torch.cat([skips.pop(), up(feature)], dim=1))
        return torch.sigmoid(self.out(feature))


class Discriminator(nn.Module):
    """DCGAN-style discriminator (seed paper Fig. 5, proxy): strided 4 × 4 convs, LeakyReLU(0.2).

    ``Conv(C, w, 4, 2, 1)`` → LReLU, then ``Conv(·, 2·, 4, 2, 1)`` → BN → LReLU until the side is
    at most 12 (at least 2, at most ``max_downsamplings`` stride-2 layers: 96 → 48 → 24 → 12, 32 → 16
    → 8), then ``Conv(·, 1, 4, 1, 0)`` gives a map of patch logits. :meth:`forward` returns the
    map ``(N, 1, h, w)``; :meth:`score` its mean, one logit per image (DCGAN's single score; take
    a sigmoid for the probability). Inputs: [0, 1] images of side >= 16.
    """

    def __init__(self, channels: int = 3, image_size: int = 96, width: int = 64, max_downsamplings: int = 4) -> None:
        super().__init__()
        channels = _positive_int(channels, "channels")
        image_size = _positive_int(image_size, "image_size")
        width = _positive_int(width, "width")
        max_downsamplings = _positive_int(max_downsamplings, "max_downsamplings")
        if image_size < 16:
            raise ValueError(f"the discriminator needs images of side >= 16, got {image_size}")
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        side, n, c = image_size // 2, 1, width
        while n < 2 or (side > 12 and n < max(2, max_downsamplings)):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, inplace=True)]
            side, n, c = side // 2, n + 1, 2 * c
        layers.append(nn.Conv2d(c, 1, 4, 1, 0))
        self.body = nn.Sequential(*layers)
        self.config = {"channels": channels, "image_size": image_size, "width": width,
                       "max_downsamplings": max_downsamplings}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 2 - 1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per image: the mean of the patch logits, ``(N,)``."""
        return self.forward(x).flatten(1).mean(1)


class SmallClassifier(nn.Module):
    """A small CNN classifier on [0, 1] images: 3 × 3 conv (``width``) then three stride-2 3 × 3
    conv blocks (``width``, 2·, 4·; BN + ReLU), global average pooling, a linear layer."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        channels = _positive_int(channels, "channels")
        num_classes = _positive_int(num_classes, "num_classes")
        width = _positive_int(width, "width")
        layers: list[nn.Module] = []
        cin = channels
        for cout, stride in ((width, 1), (width, 2), (2 * width, 2), (4 * width, 2)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x * 2 - 1).mean(dim=(2, 3)))


class _Normalised(nn.Module):
    """A classifier trained on normalised inputs (imgleak.classify) fed with [0, 1] images."""

    def __init__(self, network: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - self.mean) / self.std)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def soft_ssim(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Differentiable mean SSIM per image ``(N,)`` of float images in [0, 1].

    The settings of :func:`imgleak.metrics.ssim` (scikit-image's defaults): a ``window`` ×
    ``window`` uniform window, K1 = 0.01, K2 = 0.03, sample covariances, per channel, averaged
    over channels and the valid positions.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"soft_ssim needs two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if window > min(x.shape[-2:]):
        raise ValueError(f"window {window} is larger than the images ({x.shape[-2]}x{x.shape[-1]})")
    c1, c2 = 0.01**2, 0.03**2
    norm = window * window / (window * window - 1)
    mu_x, mu_y = F.avg_pool2d(x, window, 1), F.avg_pool2d(y, window, 1)
    var_x = (F.avg_pool2d(x * x, window, 1) - mu_x * mu_x) * norm
    var_y = (F.avg_pool2d(y * y, window, 1) - mu_y * mu_y) * norm
    cov = (F.avg_pool2d(x * y, window, 1) - mu_x * mu_y) * norm
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


# ------------------------------------------------------------------------------------ cipher


class TransformNet:
    """A trained keyless transformation (TN-model or TN-GAN) used as a cipher.

    ``encrypt(x)`` maps uint8 images ``(C, H, W)`` or ``(N, C, H, W)`` to uint8 images of the
    same shape, on the same device (computed on the network's device, in batches, eval mode).
    No key: ``key_space_log2`` is 0 and a ``key`` passed to :meth:`encrypt` (for code that
    treats all ciphers alike) is ignored. Not invertible: there is no ``decrypt``.
    """

    invertible: ClassVar[bool] = False
    keyed: ClassVar[bool] = False

    def __init__(self, network: UNet, name: str = "tn_model", settings: dict[str, Any] | None = None) -> None:
        if not isinstance(network, UNet):
            raise TypeError(f"network must be an imgleak UNet, got {type(network).__name__}")
        if name not in KINDS:
            raise ValueError(f"name must be one of {KINDS}, got {name!r}")
        self.network = network.eval()
        self.name = name
        self.settings = dict(settings or {})

    def __repr__(self) -> str:
        c = self.network.config
        return f"TransformNet({self.name!r}, base={c['base']}, depth={c['depth']}, device={self.device})"

    @property
    def config(self) -> dict[str, int]:
        """The U-Net's constructor arguments."""
        return dict(self.network.config)

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str | torch.device) -> "TransformNet":
        """Move the network (in place) to ``device``; returns ``self``."""
        self.network.to(resolve_device(device))
        return self

    def key_space_log2(self, shape: Any = None) -> float:
        """0: the transformation has no key (its secret, if any, is the weights)."""
        return 0.0

    def encrypt(self, x: torch.Tensor, key: Key | None = None, batch_size: int = 64) -> torch.Tensor:
        """Protect uint8 images ``(C, H, W)`` or ``(N, C, H, W)``; ``key`` is ignored (keyless)."""
        batch, single = as_image_batch(x, "x")
        batch_size = _positive_int(batch_size, "batch_size")
        c = self.network.config
        if batch.shape[1] != c["in_channels"]:
            raise ValueError(f"x must have {c['in_channels']} channels for this {self.name}, got {batch.shape[1]}")
        m = self.network.multiple
        if batch.shape[-2] % m or batch.shape[-1] % m:
            raise ValueError(
                f"x is {batch.shape[-2]}x{batch.shape[-1]} pixels; this {self.name} needs sides that are "
                f"multiples of {m}: crop or pad the images"
            )
        if batch.shape[0] == 0:
            return x.clone()
        return restore_rank(_run_network(self.network, batch, batch_size), single)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the network's weights."""
        return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the configuration and weights to ``path`` (a ``torch.save`` file); returns the path."""
        path = Path(path)
        torch.save({"format": _FORMAT, "name": self.name, "config": self.config,
                    "state_dict": self.state_dict()}, path)
        return path

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor], config: dict[str, int],
                        name: str = "tn_model") -> "TransformNet":
        """Rebuild a transform from a U-Net configuration and its weights (on the CPU)."""
        network = UNet(**config)
        network.load_state_dict(state_dict)
        return cls(network, name)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "TransformNet":
        """Read a transform written by :meth:`save` onto ``device``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no transform-network file at {str(path)!r}")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors, truncated files
            raise ValueError(f"cannot read transform-network file {str(path)!r}: {err}") from err
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{str(path)!r} is not a transform-network file written by TransformNet.save")
        return cls.from_state_dict(data["state_dict"], data["config"], data["name"]).to(device)


# ------------------------------------------------------------------------------------ results


@dataclass
class TransformTrainingResult:
    """What :func:`train_tn_model` / :func:`train_tn_gan` measured, and the trained cipher.

    ``losses``: per-epoch means by name (TN-model: ``total``, ``cross_entropy``,
    ``dissimilarity``, ``accuracy`` of the frozen classifier on the outputs; TN-GAN: ``g_adv``,
    ``cycle``, ``d``); ``metrics``: end-of-training numbers (see each function);
    ``images_per_second``: transform-training throughput (images through the generator per
    second of training, not counting the classifier's pre-training); ``state_dict``: a CPU copy
    of the cipher's weights; ``networks``: the other trained networks (TN-model: the frozen
    ``classifier``; TN-GAN: ``inverse_generator`` and the two discriminators).
    """

    cipher: TransformNet
    losses: dict[str, list[float]]
    metrics: dict[str, float]
    seconds: float
    images_per_second: float
    n_train: int
    parameters: int
    settings: dict[str, Any]
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    networks: dict[str, nn.Module] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The numbers and settings (no networks or weights) as plain Python values."""
        return {"name": self.cipher.name, "losses": {k: list(v) for k, v in self.losses.items()},
                "metrics": dict(self.metrics), "seconds": self.seconds,
                "images_per_second": self.images_per_second, "n_train": self.n_train,
                "parameters": self.parameters, "settings": dict(self.settings)}


# ------------------------------------------------------------------------------------ TN-model


def _classifier_module(classifier: Any) -> nn.Module:
    """An nn.Module on [0, 1] images from a module or an imgleak.classify.TrainingResult."""
    if isinstance(classifier, nn.Module):
        return classifier
    network = getattr(classifier, "network", None)
    settings = getattr(classifier, "settings", None)
    if isinstance(network, nn.Module) and isinstance(settings, dict) and "mean" in settings:
        if settings.get("input_size") is not None:
            raise ValueError("classifier was trained with input_size (resized inputs); train it at the images' size")
        return _Normalised(network, settings["mean"], settings["std"])
    raise TypeError(
        "classifier must be None (train a SmallClassifier), an nn.Module taking [0, 1] images, or an "
        f"imgleak.classify.TrainingResult; got {type(classifier).__name__}"
    )


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, transform: nn.Module | None,
              batch_size: int) -> tuple[float, torch.Tensor | None]:
    """Accuracy of ``model`` on uint8 ``x`` (optionally through ``transform``); also the transformed uint8."""
    model.eval()
    device = next(model.parameters()).device
    correct, outs = 0, []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            inputs = _unit(x[start:start + batch_size].to(device))
            if transform is not None:
                transform.eval()
                inputs = _to_uint8(transform(inputs))
                outs.append(inputs)
                inputs = _unit(inputs)  # classify what a user of the cipher would get: 8-bit images
            correct += int((model(inputs).argmax(1) == y[start:start + batch_size].to(device)).sum())
    return correct / x.shape[0], (torch.cat(outs) if outs else None)


def train_tn_model(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    classifier: Any = None,
    lam: float = 5.0,
    dissimilarity: str = "mse",
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    base: int = 16,
    depth: int = 3,
    num_classes: int | None = None,
    classifier_epochs: int = 5,
    classifier_lr: float = 1e-3,
    classifier_width: int = 32,
    eval_images: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    progress: bool = True,
) -> TransformTrainingResult:
    """Train a TN-model: a U-Net whose outputs a frozen plain-image classifier still classifies.

    Parameters
    ----------
    images, labels
        Plain training images ``uint8 (N, C, H, W)`` (sides multiples of ``2 ** depth``) and
        ``int64 (N,)`` class labels (photo crops: the source-photo index).
    classifier
        The classifier pre-trained on plain images (frozen here): ``None`` trains a
        :class:`SmallClassifier` on ``images`` first (Adam ``classifier_lr``,
        ``classifier_epochs``, width ``classifier_width``); an ``nn.Module`` taking [0, 1] images;
        or an :class:`imgleak.classify.TrainingResult` (its normalisation is applied). A given
        classifier is moved to ``device`` and frozen in place (eval mode, no gradients).
    lam, dissimilarity
        ``loss = CE(f(T(x)), y) − lam · d(T(x), x)`` with ``d`` = ``"mse"`` (on [0, 1]) or
        ``"ssim"`` (1 − :func:`soft_ssim`). Default λ = 5 with MSE: on 640 photo crops of
        32 × 32 (8 photos, 6 epochs) the frozen classifier's accuracy on validation crops went
        from 0.82 (plain) to 0.85 (protected) with SSIM(protected, plain) = 0.10; λ = 1 gave
        0.91 and SSIM 0.26.
    epochs, batch_size, lr
        Adam (β = 0.9, 0.999) on the U-Net; the paper's schedule is not verified.
    base, depth
        U-Net width and depth (:class:`UNet`).
    num_classes
        Logits of the classifier trained here; ``None``: ``max(label) + 1``.
    eval_images, eval_labels
        Where the end metrics are measured (e.g. validation crops); default: the training images.
    seed, device, num_threads, progress
        As in :func:`imgleak.classify.train_classifier` (seeded init and batches; the caller's RNG
        state is restored; ``num_threads`` is set for the run only; a tqdm bar over epochs).

    Returns
    -------
    TransformTrainingResult
        ``cipher`` (``TransformNet`` named ``"tn_model"``); ``metrics``: ``plain_accuracy`` and
        ``protected_accuracy`` of the frozen classifier (on the 8-bit protected images),
        ``ssim_to_plain`` (mean SSIM, :func:`imgleak.metrics.ssim`, protected vs plain: low =
        unlike the input), ``classifier_train_accuracy`` when trained here.
    """
    from ..metrics import ssim

    x = _image_set(images, "images")
    y = _labels(labels, x.shape[0], "labels")
    lam = _number(lam, "lam")
    if dissimilarity not in DISSIMILARITIES:
        raise ValueError(f"dissimilarity must be one of {DISSIMILARITIES}, got {dissimilarity!r}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    lr = _number(lr, "lr", positive=True)
    classifier_epochs = _positive_int(classifier_epochs, "classifier_epochs")
    classifier_lr = _number(classifier_lr, "classifier_lr", positive=True)
    if num_classes is None:
        num_classes = int(y.max()) + 1
    num_classes = _positive_int(num_classes, "num_classes")
    if int(y.max()) >= num_classes:
        raise ValueError(f"labels go up to {int(y.max())} but num_classes={num_classes}")
    _check_unet_fits(x, base, depth)
    if dissimilarity == "ssim" and min(x.shape[-2:]) < 7:
        raise ValueError("dissimilarity='ssim' needs images of at least 7x7 pixels")
    if (eval_images is None) != (eval_labels is None):
        raise ValueError("give both eval_images and eval_labels, or neither")
    if eval_images is not None:
        ex = _image_set(eval_images, "eval_images", minimum=1)
        if ex.shape[1:] != x.shape[1:]:
            raise ValueError(f"eval_images must be shaped (N, {', '.join(map(str, x.shape[1:]))}), got {tuple(ex.shape)}")
        ey = _labels(eval_labels, ex.shape[0], "eval_labels")
    else:
        ex, ey = x, y
    given = None if classifier is None else _classifier_module(classifier)
    seed = _seed(seed)
    device = resolve_device(device)
    num_threads = _threads(num_threads)

    start = time.perf_counter()
    with _training(seed, device, num_threads):
        generator = torch.Generator().manual_seed(seed + 1)
        xd, yd = x.to(device), y.to(device)
        losses: dict[str, list[float]] = {"total": [], "cross_entropy": [], "dissimilarity": [], "accuracy": []}
        metrics: dict[str, float] = {}
        if given is None:
            model = SmallClassifier(x.shape[1], num_classes, classifier_width).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=classifier_lr)
            bar = tqdm(range(classifier_epochs), desc="plain classifier", disable=not progress, leave=False)
            for _ in bar:
                model.train()
                for rows in _batches(x.shape[0], batch_size, generator):
                    rows = rows.to(device)
                    loss = F.cross_entropy(model(_unit(xd[rows])), yd[rows])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            metrics["classifier_train_accuracy"] = _accuracy(model, xd, yd, None, 256)[0]
        else:
            model = given.to(device)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)

        network = UNet(x.shape[1], x.shape[1], base, depth).to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=lr)
        parameters = sum(p.numel() for p in network.parameters())
        seen, train_seconds = 0, 0.0
        bar = tqdm(range(epochs), desc="TN-model", disable=not progress)
        for _ in bar:
            network.train()
            sums = torch.zeros(4, dtype=torch.float64, device=device)
            count = 0
            t0 = time.perf_counter()
            for rows in _batches(x.shape[0], batch_size, generator):
                rows = rows.to(device)
                plain = _unit(xd[rows])
                out = network(plain)
                logits = model(out)
                ce = F.cross_entropy(logits, yd[rows])
                d = F.mse_loss(out, plain) if dissimilarity == "mse" else 1 - soft_ssim(out, plain).mean()
                loss = ce - lam * d
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                k = rows.numel()
                acc = (logits.detach().argmax(1) == yd[rows]).float().mean()
                sums += torch.stack([loss.detach(), ce.detach(), d.detach(), acc]).double() * k
                count += k
            train_seconds += time.perf_counter() - t0
            seen += count
            total, ce_mean, d_mean, acc_mean = (float(v) / count for v in sums.cpu())
            _finite(total, "the TN-model loss")
            for name, value in zip(losses, (total, ce_mean, d_mean, acc_mean)):
                losses[name].append(value)
            bar.set_postfix(ce=f"{ce_mean:.3f}", d=f"{d_mean:.3f}", acc=f"{acc_mean:.3f}")
        bar.close()
        network.eval()
        exd, eyd = ex.to(device), ey.to(device)
        metrics["plain_accuracy"] = _accuracy(model, exd, eyd, None, 256)[0]
        protected_accuracy, protected = _accuracy(model, exd, eyd, network, 256)
        metrics["protected_accuracy"] = protected_accuracy
        metrics["ssim_to_plain"] = float(ssim(protected, exd).mean()) if min(ex.shape[-2:]) >= 7 else float("nan")

    cipher = TransformNet(network, "tn_model")
    settings = {
        "lam": lam, "dissimilarity": dissimilarity, "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "optimizer": "Adam(0.9, 0.999)", "unet": cipher.config, "num_classes": num_classes,
        "classifier": "SmallClassifier trained here" if given is None else type(given).__name__,
        "classifier_epochs": classifier_epochs if given is None else None,
        "classifier_lr": classifier_lr if given is None else None,
        "classifier_width": classifier_width if given is None else None,
        "image_shape": [int(s) for s in x.shape[1:]], "evaluated_on": "eval_images" if eval_images is not None else "training images",
        "seed": seed, "device": str(device), "num_threads": num_threads,
    }
    cipher.settings = dict(settings)
    return TransformTrainingResult(
        cipher=cipher, losses=losses, metrics=metrics, seconds=time.perf_counter() - start,
        images_per_second=seen / max(train_seconds, 1e-9), n_train=int(x.shape[0]), parameters=parameters,
        settings=settings, state_dict=cipher.state_dict(), networks={"classifier": model},
    )


# ------------------------------------------------------------------------------------ TN-GAN


def _default_target_cipher() -> Any:
    from .pixelwise import PixelwiseEncryption

    return PixelwiseEncryption("different")


def train_tn_gan(
    images: torch.Tensor,
    target_images: torch.Tensor | None = None,
    *,
    target_cipher: Any = None,
    key: Key | None = None,
    epochs: int = 2,
    batch_size: int = 16,
    lr: float = PAPER_TN_GAN["lr"],
    beta1: float = PAPER_TN_GAN["beta1"],
    cycle_weight: float = PAPER_TN_GAN["cycle_weight"],
    base: int = 16,
    depth: int = 3,
    disc_width: int = 32,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    progress: bool = True,
) -> TransformTrainingResult:
    """Train a TN-GAN: an unpaired plain → protected translation (CycleGAN at small scale).

    Parameters
    ----------
    images
        Plain images ``uint8 (N, C, H, W)`` (sides multiples of ``2 ** depth``, at least 16).
    target_images
        Images of the protected domain (same ``C, H, W``), unpaired with ``images``. ``None``:
        ``images`` is split at random (``seed``) into two disjoint halves; the first half is
        the plain domain, the second half encrypted with ``target_cipher`` is the protected one.
    target_cipher, key
        The conventional perceptual encryption that defines the protected domain (default:
        pixel-wise encryption with a different key per image — an assumption, see the module
        docstring) and its key (default ``Key.from_seed(seed)``). Only with ``target_images=None``.
    epochs, batch_size
        An epoch is one pass over the plain-domain images; protected batches cycle alongside.
    lr, beta1, cycle_weight
        Adam (``beta1``, 0.999) for all four networks; weight of the L1 cycle loss.
    base, depth, disc_width
        U-Net size of both generators; first width of both discriminators.
    seed, device, num_threads, progress
        As in :func:`train_tn_model`.

    Returns
    -------
    TransformTrainingResult
        ``cipher`` (``TransformNet`` named ``"tn_gan"``: the plain → protected generator);
        ``metrics``: ``ssim_to_plain`` (protected vs plain, plain-domain images) and
        ``cycle_ssim`` (F(G(x)) vs x: how much of the image survives the transformation).
    """
    from ..metrics import ssim

    x = _image_set(images, "images")
    seed = _seed(seed)
    if target_images is None:
        cipher_b = _default_target_cipher() if target_cipher is None else target_cipher
        if not callable(getattr(cipher_b, "encrypt", None)):
            raise TypeError(f"target_cipher must have an encrypt(x, key) method, got {type(cipher_b).__name__}")
        key_b = Key.from_seed(seed) if key is None else key
        if not isinstance(key_b, Key):
            raise TypeError(f"key must be an imgleak Key or None, got {type(key_b).__name__}")
        if x.shape[0] < 4:
            raise ValueError(f"images needs at least 4 images to be split into two domains, got {x.shape[0]}")
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed)).to(x.device)
        half = x.shape[0] // 2
        domain_a = x[order[:half].sort().values]
        domain_b = cipher_b.encrypt(x[order[half:].sort().values], key_b)
        target_name = f"{getattr(cipher_b, 'name', type(cipher_b).__name__)}" + (
            f"({cipher_b.mode})" if hasattr(cipher_b, "mode") else "")
    else:
        if target_cipher is not None or key is not None:
            raise ValueError("target_cipher and key apply only when target_images is None")
        domain_a = x
        domain_b = _image_set(target_images, "target_images")
        if domain_b.shape[1:] != x.shape[1:]:
            raise ValueError(f"target_images must be shaped (N, {', '.join(map(str, x.shape[1:]))}), "
                             f"got {tuple(domain_b.shape)}")
        target_name = "given target_images"
    epochs, batch_size, lr, beta1 = _adam_schedule(epochs, batch_size, lr, beta1)
    cycle_weight = _number(cycle_weight, "cycle_weight")
    _check_unet_fits(x, base, depth)
    if x.shape[-2] != x.shape[-1] or x.shape[-1] < 16:
        raise ValueError(f"images must be square with side >= 16 for the discriminators, got {x.shape[-2]}x{x.shape[-1]}")
    disc_width = _positive_int(disc_width, "disc_width")
    device = resolve_device(device)
    num_threads = _threads(num_threads)

    start = time.perf_counter()
    channels, side = int(x.shape[1]), int(x.shape[-1])
    with _training(seed, device, num_threads):
        generator = torch.Generator().manual_seed(seed + 1)
        g_ab = UNet(channels, channels, base, depth).to(device)
        g_ba = UNet(channels, channels, base, depth).to(device)
        d_a = Discriminator(channels, side, disc_width).to(device)
        d_b = Discriminator(channels, side, disc_width).to(device)
        for net in (d_a, d_b):
            dcgan_init(net)
        opt_g = torch.optim.Adam(list(g_ab.parameters()) + list(g_ba.parameters()), lr=lr, betas=(beta1, 0.999))
        opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=lr, betas=(beta1, 0.999))
        a_all, b_all = domain_a.to(device), domain_b.to(device)
        n_b = b_all.shape[0]
        b_order = torch.randperm(n_b, generator=generator)
        b_pos = 0
        losses: dict[str, list[float]] = {"g_adv": [], "cycle": [], "d": []}
        seen, train_seconds = 0, 0.0
        bar = tqdm(range(epochs), desc="TN-GAN", disable=not progress)
        for _ in bar:
            for net in (g_ab, g_ba, d_a, d_b):
                net.train()
            sums = torch.zeros(3, dtype=torch.float64, device=device)
            count = 0
            t0 = time.perf_counter()
            for rows in _batches(a_all.shape[0], batch_size, generator):
                k = rows.numel()
                if b_pos + k > n_b:  # next pass over the protected domain
                    b_order, b_pos = torch.randperm(n_b, generator=generator), 0
                b_rows = b_order[b_pos:b_pos + min(k, n_b)]
                b_pos += b_rows.numel()
                a = _unit(a_all[rows.to(device)])
                b = _unit(b_all[b_rows.to(device)])
                # generators: fool both discriminators (least squares), keep the cycles
                fake_b, fake_a = g_ab(a), g_ba(b)
                pred_fb, pred_fa = d_b(fake_b), d_a(fake_a)
                adv = F.mse_loss(pred_fb, torch.ones_like(pred_fb)) + F.mse_loss(pred_fa, torch.ones_like(pred_fa))
                cycle = F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b)
                loss_g = adv + cycle_weight * cycle
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                # discriminators: real → 1, generated → 0
                loss_d = 0.0
                for disc, real, fake in ((d_a, a, fake_a), (d_b, b, fake_b)):
                    pr, pf = disc(real), disc(fake.detach())
                    loss_d = loss_d + 0.5 * (F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, torch.zeros_like(pf)))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                sums += torch.stack([adv.detach(), cycle.detach(), loss_d.detach()]).double() * k
                count += k
            train_seconds += time.perf_counter() - t0
            seen += count
            g_mean, c_mean, d_mean = (float(v) / count for v in sums.cpu())
            _finite(g_mean + c_mean + d_mean, "the TN-GAN loss")
            for name, value in zip(losses, (g_mean, c_mean, d_mean)):
                losses[name].append(value)
            bar.set_postfix(g=f"{g_mean:.3f}", cycle=f"{c_mean:.3f}", d=f"{d_mean:.3f}")
        bar.close()
        protected = _run_network(g_ab, a_all, 64)
        cycled = _run_network(g_ba, protected, 64)
        metrics = {"ssim_to_plain": float(ssim(protected, a_all).mean()),
                   "cycle_ssim": float(ssim(cycled, a_all).mean())}

    cipher = TransformNet(g_ab, "tn_gan")
    settings = {
        "target": target_name, "n_plain": int(domain_a.shape[0]), "n_protected": int(domain_b.shape[0]),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "betas": [beta1, 0.999],
        "cycle_weight": cycle_weight, "gan_loss": "least squares (CycleGAN)", "unet": cipher.config,
        "discriminator": d_a.config, "image_shape": [int(s) for s in x.shape[1:]], "seed": seed,
        "device": str(device), "num_threads": num_threads,
    }
    cipher.settings = dict(settings)
    return TransformTrainingResult(
        cipher=cipher, losses=losses, metrics=metrics, seconds=time.perf_counter() - start,
        images_per_second=seen / max(train_seconds, 1e-9), n_train=int(domain_a.shape[0]),
        parameters=sum(p.numel() for p in g_ab.parameters()), settings=settings,
        state_dict=cipher.state_dict(),
        networks={"inverse_generator": g_ba.eval(), "discriminator_plain": d_a.eval(),
                  "discriminator_protected": d_b.eval()},
    )


__all__ = [
    "DISSIMILARITIES", "KINDS", "PAPER_TN_GAN", "Discriminator", "SmallClassifier", "TransformNet",
    "TransformTrainingResult", "UNet", "dcgan_init", "soft_ssim", "train_tn_gan", "train_tn_model",
]
