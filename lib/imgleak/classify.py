"""Train and evaluate image classifiers on plain and encrypted images.

This is the experiment of the RVT paper (Sect. 3 of ``reference/rvt-information.md``): train the
same network on plain images and on their encrypted versions and compare the test accuracies.
An encryption that hides the content should make the accuracy drop; the paper reports drops of
only 0.3–6.5 points for RVT and of 40–70 % for a per-image random permutation.

Protocol (the paper's, where a 2-core CPU allows it)
----------------------------------------------------
* Optimiser: SGD, momentum 0.9, Nesterov, weight decay (paper: 1e-4…5e-4; default here 5e-4),
  cross-entropy loss.
* Learning rate: cosine annealing from ``lr`` to 0 over **all optimisation steps** of the run
  (the closed form of ``CosineAnnealingLR(T_max=epochs * batches_per_epoch)``, stepped after
  every batch; the paper anneals over the run as well). Optional extras, off by default as in
  the paper: a linear warm-up (``warmup_epochs``) and gradient-norm clipping (``grad_clip``);
  the small ViT trained by SGD from scratch learns markedly faster with ``warmup_epochs=1,
  grad_clip=1.0``.
* Augmentation: optional RICAP (Takahashi et al. 2018; the paper always uses it with β = 0.3),
  optional random crop with zero padding and horizontal flip (the paper uses padding 4 and flips;
  both off by default because flipping digits changes them). The paper's ColorJitter is not
  reproduced.
* Inputs: ``uint8`` images scaled to ``[0, 1]``, optionally resized (``input_size``), then
  normalised by the **training set's** per-channel mean and standard deviation.
* Metric: test accuracy after every epoch; the reported number is the **best** test accuracy
  over the epochs (as in the paper), the last one is kept too.
* Speed on a 2-core CPU (one thread, training only, batch 128): ResNet-18 ≈ 110 images/s at
  16×16 and ≈ 35 at 28×28; the small ViT ≈ 330 at 16×16 and ≈ 480 at 28×28 (fewer, larger
  patches). With other processes busy, two threads can be several times slower than one: see
  ``num_threads``.

Models (:func:`build_model`)
----------------------------
``"resnet18"``
    torchvision ResNet-18 from scratch (``weights=None``) with the small-input stem used for
    28/32-pixel images: ``conv1`` = 3×3, stride 1, padding 1 (``in_channels`` → 64) and no max-pool;
    ``fc`` → ``Linear(512, num_classes)``. ``small_stem=False`` keeps the 7×7 stride-2 stem and
    max-pool, as the paper did for inputs up-sampled to 224. 11.2 M parameters; works at any size ≥ 1 pixel (global
    average pooling), the stride-2 stages shrink 16×16 inputs to 2×2.
``"vit"``
    A small Vision Transformer for CPU runs (:class:`SmallViT`): a strided-conv patch embedding,
    a learnable class token and positional embedding, ``depth`` pre-norm
    ``nn.TransformerEncoder`` layers (GELU, no dropout), a final LayerNorm and a linear head on
    the class token. Defaults: dim 96, depth 4, 4 heads, MLP 192; the patch size is the smallest
    divisor ≥ 2 of the image size that gives at most 8 patches per side (8×8 → 2, 16×16 → 2,
    28×28 and 32×32 → 4, 224×224 → 28). About 0.3 M parameters.
``"vit_b_16"``
    torchvision's ViT-B (12 layers, 12 heads, width 768, MLP 3072, ≈ 85 M parameters) built with
    :class:`torchvision.models.VisionTransformer` for the given ``image_size`` and a fresh patch
    embedding ``conv_proj = Conv2d(in_channels, 768, p, stride p)`` (the paper replaces it the
    same way). ``p`` is 16 — the paper's — when the image size is a multiple of 16 with at least
    4 patches per side (64, 128, 224, …); for small images (28, 32) it falls back to the ``"vit"``
    rule (p = 4). ``pretrained=True`` loads torchvision's ImageNet weights (the paper's starting
    point; needs them in the torch hub cache — nothing is downloaded offline), interpolating the
    positional embeddings to the new grid; the 1000-way head is kept only when
    ``num_classes == 1000`` (the paper kept it and trained 10-class labels on 1000 logits).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from imgleak.images import LabelledImages
from imgleak.tensors import resolve_device

MODEL_NAMES: tuple[str, ...] = ("resnet18", "vit", "vit_b_16")
"""The names :func:`build_model` and :func:`train_classifier` accept."""

DEFAULT_LR: dict[str, float] = {"resnet18": 0.05, "vit": 0.05, "vit_b_16": 0.005}
"""Learning rate used when ``lr=None``. ResNet-18: the paper uses 0.1 with batch 256; 0.05 suits
the smaller batches of CPU runs. ViT-B/16: the paper's 0.005. Small ViT: 0.05 (measured on the
digits; SGD needs a larger step than for a pretrained ViT)."""

RESIZE_MODES: tuple[str, ...] = ("nearest", "bilinear", "bicubic", "area")

_VIT_MAX_PATCHES_PER_SIDE = 8


class TrainingDivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite (a too large learning rate, usually)."""


# ------------------------------------------------------------------------------------------ models


class SmallViT(nn.Module):
    """A compact Vision Transformer (ViT, Dosovitskiy et al. 2021) for small images on a CPU.

    Patch embedding ``Conv2d(in_channels, dim, patch_size, stride=patch_size)`` → tokens, a
    learnable class token and positional embedding (truncated normal, std 0.02), ``depth``
    pre-norm ``nn.TransformerEncoderLayer`` (``heads`` heads, MLP ``mlp_dim``, GELU, dropout
    ``dropout``), a final ``LayerNorm`` and ``Linear(dim, num_classes)`` on the class token.
    ``image_size`` is an int (square) or ``(height, width)``; both must be multiples of
    ``patch_size``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int | tuple[int, int],
        patch_size: int,
        dim: int = 96,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        height, width = _pair(image_size, "image_size")
        if height % patch_size or width % patch_size:
            raise ValueError(
                f"patch_size {patch_size} must divide the image size {height}x{width}"
            )
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        mlp_dim = 2 * dim if mlp_dim is None else mlp_dim
        self.image_size = (height, width)
        self.patch_size = patch_size
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        tokens = (height // patch_size) * (width // patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=dim, nhead=heads, dim_feedforward=mlp_dim, dropout=dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, T, dim)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        return self.head(self.norm(self.encoder(tokens))[:, 0])


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        height, width = value
    else:
        height = width = value
    for v in (height, width):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(height), int(width)


def auto_patch_size(image_size: int | tuple[int, int], max_per_side: int = _VIT_MAX_PATCHES_PER_SIDE) -> int:
    """A ViT patch size for small images: the smallest common divisor ``p >= 2`` of the sides
    that leaves 2 to ``max_per_side`` patches per side.

    8 → 2 (4×4 patches), 16 → 2 (8×8), 28 → 4 (7×7), 32 → 4 (8×8), 224 → 28 (8×8). Images of at
    most ``max_per_side`` pixels without such a divisor use pixel patches (``p = 1``); other
    awkward sizes (primes above 8) raise ``ValueError``: pass ``patch_size`` or resize the input.
    """
    height, width = _pair(image_size, "image_size")
    for p in range(2, min(height, width) + 1):
        if height % p == 0 and width % p == 0 and max(height, width) // p <= max_per_side:
            if min(height, width) // p >= 2:
                return p
            break
    if max(height, width) <= max_per_side:
        return 1
    raise ValueError(
        f"no patch size gives 2..{max_per_side} patches per side for image size {height}x{width}; "
        "pass patch_size explicitly or resize the images (input_size)"
    )


def _resnet18(in_channels: int, num_classes: int, small_stem: bool) -> nn.Module:
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    if small_stem:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:  # torchvision's ImageNet stem (the paper's choice for 224-pixel inputs)
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def _vit_b_16(in_channels: int, num_classes: int, image_size: int, patch_size: int | None, pretrained: bool) -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings

    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2 or image_size[0] != image_size[1]:
            raise ValueError(f"vit_b_16 needs square images; got image_size {image_size!r}")
        image_size = image_size[0]
    size = _pair(image_size, "image_size")[0]
    if patch_size is None:
        patch_size = 16 if size % 16 == 0 and size // 16 >= 4 else auto_patch_size(size)
    if size % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide image_size {size} for vit_b_16")
    head_classes = 1000 if pretrained and num_classes == 1000 else num_classes
    model = VisionTransformer(
        image_size=size, patch_size=patch_size, num_layers=12, num_heads=12,
        hidden_dim=768, mlp_dim=3072, num_classes=head_classes,
    )
    if pretrained:
        from torchvision.models import ViT_B_16_Weights

        weights = ViT_B_16_Weights.IMAGENET1K_V1
        try:
            state = weights.get_state_dict(progress=False)
        except Exception as err:  # URLError, RuntimeError, OSError offline
            raise RuntimeError(
                "pretrained ViT-B/16 weights are not available here (no internet?): put "
                f"{weights.url.rsplit('/', 1)[-1]} from {weights.url} into "
                f"{os.path.join(torch.hub.get_dir(), 'checkpoints')} or use pretrained=False"
            ) from err
        state = {k: v for k, v in state.items() if not k.startswith("conv_proj.")}
        if patch_size != 16 or size != 224:
            state = interpolate_embeddings(size, patch_size, state)
        if head_classes != 1000:
            state = {k: v for k, v in state.items() if not k.startswith("heads.")}
        loaded = model.load_state_dict(state, strict=False)
        fresh = [k for k in loaded.missing_keys if not k.startswith(("conv_proj.", "heads."))]
        if fresh or loaded.unexpected_keys:
            raise RuntimeError(
                f"the ViT-B/16 weights do not fit: missing {fresh}, unexpected {loaded.unexpected_keys}"
            )
    # A fresh patch embedding for the input channels (the paper: Conv(in_ch, 768, 16, stride 16)).
    conv = nn.Conv2d(in_channels, 768, kernel_size=patch_size, stride=patch_size)
    fan_in = in_channels * patch_size * patch_size
    nn.init.trunc_normal_(conv.weight, std=math.sqrt(1 / fan_in))  # torchvision's own init
    nn.init.zeros_(conv.bias)
    model.conv_proj = conv
    return model


def build_model(
    name: str,
    in_channels: int,
    num_classes: int,
    image_size: int | tuple[int, int],
    *,
    patch_size: int | None = None,
    pretrained: bool = False,
    small_stem: bool = True,
    **vit_options: Any,
) -> nn.Module:
    """A freshly initialised classifier by name (see the module docstring for the architectures).

    Parameters
    ----------
    name
        ``"resnet18"``, ``"vit"`` (small ViT) or ``"vit_b_16"``.
    in_channels, num_classes
        Input channels (1 grey, 3 colour) and number of output logits.
    image_size
        Input side in pixels (int) or ``(height, width)``; the ViTs need it (positional
        embedding), ResNet-18 accepts any size.
    patch_size
        ViT patch size (must divide the image size); ``None`` picks one (see
        :func:`auto_patch_size`; 16 for ``vit_b_16`` on images of 64 pixels and more).
    pretrained
        ``vit_b_16`` only: start from torchvision's ImageNet weights (must be cached locally).
    small_stem
        ``resnet18`` only: the 3×3 stride-1 stem without max-pool (default, for small images);
        ``False`` keeps torchvision's 7×7 stride-2 stem and max-pool (the paper's choice for
        images up-sampled to 224).
    vit_options
        ``dim``, ``depth``, ``heads``, ``mlp_dim``, ``dropout`` of the small ``"vit"``.

    The weights are drawn from the global torch RNG: seed it (or use :func:`train_classifier`,
    which does so under ``torch.random.fork_rng``) for reproducible models.
    """
    if not isinstance(name, str) or name not in MODEL_NAMES:
        raise ValueError(f"model name must be one of {', '.join(MODEL_NAMES)}; got {name!r}")
    for value, arg in ((in_channels, "in_channels"), (num_classes, "num_classes")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    if patch_size is not None and (isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1):
        raise ValueError(f"patch_size must be a positive int or None, got {patch_size!r}")
    _pair(image_size, "image_size")
    if vit_options and name != "vit":
        raise TypeError(f"options {sorted(vit_options)} apply only to the small 'vit', not {name!r}")
    if not small_stem and name != "resnet18":
        raise ValueError(f"small_stem applies only to 'resnet18', not {name!r}")
    if pretrained and name != "vit_b_16":
        raise ValueError(f"pretrained=True is offered only for 'vit_b_16', not {name!r}")
    if name == "resnet18":
        return _resnet18(int(in_channels), int(num_classes), bool(small_stem))
    if name == "vit":
        allowed = {"dim", "depth", "heads", "mlp_dim", "dropout"}
        unknown = set(vit_options) - allowed
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)} for 'vit'; choose from {sorted(allowed)}")
        patch = auto_patch_size(image_size) if patch_size is None else patch_size
        return SmallViT(int(in_channels), int(num_classes), image_size, patch, **vit_options)
    return _vit_b_16(int(in_channels), int(num_classes), image_size, patch_size, bool(pretrained))


# ------------------------------------------------------------------------------------------ result


@dataclass
class TrainingResult:
    """What :func:`train_classifier` measured, and the settings that produced it.

    Per-epoch lists (one entry per epoch): ``train_loss`` (mean cross-entropy over the epoch's
    batches; RICAP-mixed when RICAP is on), ``train_accuracy`` (on the augmented batches, RICAP
    accuracy weighted by patch area), ``test_loss`` and ``test_accuracy`` (whole test set, no
    augmentation). ``best_test_accuracy`` is the paper's metric (maximum over epochs, at
    ``best_epoch``, 1-based); ``final_test_accuracy`` is the last epoch's. Accuracies are
    fractions in [0, 1]. ``images_per_second`` is the training throughput (training passes
    only). ``network`` is the trained model (last epoch, eval mode); use :meth:`evaluate` to test
    it on other data, normalised the same way.
    """

    model: str
    train_loss: list[float]
    train_accuracy: list[float]
    test_loss: list[float]
    test_accuracy: list[float]
    best_test_accuracy: float
    best_epoch: int
    final_test_accuracy: float
    seconds: float
    images_per_second: float
    n_train: int
    n_test: int
    num_classes: int
    parameters: int
    settings: dict[str, Any]
    network: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The numbers and settings (no network) as plain Python values."""
        return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                for k, v in self.__dict__.items() if k != "network"}

    def to_dataframe(self):
        """One row per epoch: ``model, epoch, train_loss, train_accuracy, test_loss, test_accuracy``."""
        import pandas as pd

        epochs = len(self.test_accuracy)
        return pd.DataFrame(
            {
                "model": [self.model] * epochs,
                "epoch": list(range(1, epochs + 1)),
                "train_loss": self.train_loss,
                "train_accuracy": self.train_accuracy,
                "test_loss": self.test_loss,
                "test_accuracy": self.test_accuracy,
            }
        )

    def evaluate(self, data: Any, batch_size: int = 512) -> float:
        """Accuracy of the trained network on ``data`` (LabelledImages or ``(images, labels)``).

        The images are scaled, resized and normalised as during training; they must have the
        training images' channels and (unless ``input_size`` was set) size.
        """
        if self.network is None:
            raise ValueError("this result holds no network (network=None); train again to evaluate")
        images, labels = _as_dataset(data, "data")
        shape = tuple(self.settings["image_shape"])
        if self.settings.get("input_size") is None and tuple(images.shape[1:]) != shape:
            raise ValueError(f"data images must be shaped (N, {', '.join(map(str, shape))}), got {tuple(images.shape)}")
        if self.settings.get("input_size") is not None and images.shape[1] != shape[0]:
            raise ValueError(f"data images must have {shape[0]} channels, got {images.shape[1]}")
        if labels.numel() and int(labels.max()) >= self.num_classes:
            raise ValueError(f"data labels must be below num_classes={self.num_classes}, got {int(labels.max())}")
        batch_size = _positive_int(batch_size, "batch_size")
        device = next(self.network.parameters()).device
        prep = _Preprocess(
            torch.tensor(self.settings["mean"], device=device),
            torch.tensor(self.settings["std"], device=device),
            _size_or_none(self.settings.get("input_size")),
            self.settings.get("resize_mode", "nearest"),
        )
        _, accuracy = _evaluate(self.network, images.to(device), labels.to(device), prep, batch_size)
        return accuracy


def _size_or_none(value: Any) -> tuple[int, int] | None:
    return None if value is None else _pair(value, "input_size")


# ------------------------------------------------------------------------------------------ checks


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _non_negative_float(value: Any, name: str, positive: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
    if bad or not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {kind} finite number, got {value!r}")
    return float(value)


def _as_dataset(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 (N, C, H, W), labels int64 (N,))`` from LabelledImages or a pair; checked."""
    if isinstance(data, LabelledImages) or (hasattr(data, "images") and hasattr(data, "labels")):
        images, labels = data.images, data.labels
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
    else:
        raise TypeError(
            f"{name} must be an imgleak.images.LabelledImages or an (images, labels) pair, "
            f"got {type(data).__name__}"
        )
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"{name} images must be a torch.uint8 tensor shaped (N, C, H, W), got {got}")
    if images.dim() != 4:
        raise ValueError(f"{name} images must be shaped (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0 or 0 in images.shape[1:]:
        raise ValueError(f"{name} images must not be empty, got shape {tuple(images.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"{name} labels must be a torch.int64 tensor shaped (N,), got {got}")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{name} labels must be shaped (N,) with N = {images.shape[0]} (the number of images), "
            f"got {tuple(labels.shape)}"
        )
    if int(labels.min()) < 0:
        raise ValueError(f"{name} labels must be class indices >= 0, got {int(labels.min())}")
    return images, labels


def _num_classes(data: Any, labels: torch.Tensor) -> int:
    classes = getattr(data, "classes", None)
    declared = len(classes) if isinstance(classes, (tuple, list)) else 0
    return max(declared, int(labels.max()) + 1)


# ------------------------------------------------------------------------------------------ split


def split(data: Any, test_fraction: float = 0.25, seed: int = 0) -> tuple[LabelledImages, LabelledImages]:
    """A seeded train/test split stratified by label: ``(train, test)`` LabelledImages.

    Each class contributes ``round(count * test_fraction)`` images to the test part (picked at
    random with a ``torch.Generator`` seeded by ``seed``); both parts keep the original order.
    Useful for scikit-learn's digits, which have no official test split. ``data`` may be a
    LabelledImages or an ``(images, labels)`` pair (then the classes are ``"0", "1", …``).
    """
    images, labels = _as_dataset(data, "data")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    n = labels.shape[0]
    cpu_labels = labels.cpu()
    generator = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=generator)
    shuffled = cpu_labels[perm]
    order = torch.argsort(shuffled, stable=True)  # grouped by class, random order inside a class
    grouped = perm[order]
    counts = torch.bincount(cpu_labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[cpu_labels[grouped]]  # position inside its class
    n_test = torch.floor(counts.to(torch.float64) * float(test_fraction) + 0.5).to(torch.int64)
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[grouped] = rank < n_test[cpu_labels[grouped]]
    if bool(is_test.all()) or not bool(is_test.any()):
        raise ValueError(
            f"test_fraction={test_fraction} leaves an empty {'train' if is_test.all() else 'test'} part "
            f"for {n} images; use more images or another fraction"
        )
    name = getattr(data, "name", "data")
    classes = getattr(data, "classes", None) or tuple(str(c) for c in range(int(cpu_labels.max()) + 1))
    index = torch.arange(n)
    parts = []
    for mask, suffix in ((~is_test, "train"), (is_test, "test")):
        rows = index[mask].to(images.device)
        parts.append(LabelledImages(f"{name}-{suffix}", images[rows], labels[rows.to(labels.device)], tuple(classes)))
    return parts[0], parts[1]


# ------------------------------------------------------------------------------------ augmentation


def ricap(
    images: torch.Tensor,
    labels: torch.Tensor,
    beta: float = 0.3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RICAP: random image cropping and patching (Takahashi et al. 2018), vectorised over the batch.

    A boundary point ``(w, h)`` is drawn from ``Beta(beta, beta)`` (scaled to the image size);
    the output images are tiled from four quadrants — top-left ``h × w``, top-right
    ``h × (W - w)``, bottom-left ``(H - h) × w``, bottom-right ``(H - h) × (W - w)`` — each cut at a
    random position (shared by the batch, as in the authors' code) from the images of a random
    permutation of the batch.

    Returns ``(mixed, targets, weights)``: ``mixed`` has the shape and dtype of ``images``,
    ``targets`` is ``(4, N)`` (the label of each quadrant's source image) and ``weights`` ``(4,)``
    float32 — the quadrants' area fractions, summing to 1. The loss is
    ``sum_k weights[k] * cross_entropy(logits, targets[k])``. Random numbers come from
    ``generator`` (a CPU ``torch.Generator``; ``None`` uses the global RNG).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor shaped (N, C, H, W), got {getattr(images, 'shape', type(images).__name__)}")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be a tensor shaped (N,) with N = {images.shape[0]}")
    beta = _non_negative_float(beta, "beta", positive=True)
    n, _, height, width = images.shape
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    rng = np.random.default_rng(seed)  # Beta draws: torch's Beta sampler takes no generator
    w = int(round(width * rng.beta(beta, beta)))
    h = int(round(height * rng.beta(beta, beta)))
    sizes = ((h, w), (h, width - w), (height - h, w), (height - h, width - w))
    perms = torch.stack([torch.randperm(n, generator=generator) for _ in range(4)])
    corners = []
    for ph, pw in sizes:  # four draws, not a loop over samples
        y = int(torch.randint(0, height - ph + 1, (1,), generator=generator))
        x = int(torch.randint(0, width - pw + 1, (1,), generator=generator))
        corners.append((y, x))
    index = perms.to(images.device)
    patches = [
        images[index[k], :, y:y + ph, x:x + pw]
        for k, ((ph, pw), (y, x)) in enumerate(zip(sizes, corners))
    ]
    top = torch.cat(patches[:2], dim=3)
    bottom = torch.cat(patches[2:], dim=3)
    mixed = torch.cat([top, bottom], dim=2)
    targets = labels[index.to(labels.device)]
    weights = torch.tensor([ph * pw / (height * width) for ph, pw in sizes], dtype=torch.float32)
    return mixed, targets, weights


def _random_crop_flip(x: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Per-image random crop after zero padding, and random horizontal flips, by indexing (no loop)."""
    n, c, height, width = x.shape
    if padding:
        padded = F.pad(x, (padding, padding, padding, padding))
        oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
        rows = oy[:, None] + torch.arange(height, device=x.device)  # (N, H)
        cols = ox[:, None] + torch.arange(width, device=x.device)  # (N, W)
        x = padded[
            torch.arange(n, device=x.device)[:, None, None, None],
            torch.arange(c, device=x.device)[None, :, None, None],
            rows[:, None, :, None],
            cols[:, None, None, :],
        ]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x


class _Preprocess:
    """uint8 batch → float in [0, 1] → optional resize → (augment) → normalise."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, size: tuple[int, int] | None, mode: str) -> None:
        self.mean = mean.view(1, -1, 1, 1).float()
        self.std = std.view(1, -1, 1, 1).float()
        self.size = size
        self.mode = mode

    def scale(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.float().div_(255.0)
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            kwargs = {} if self.mode in ("nearest", "area") else {"align_corners": False}
            x = F.interpolate(x, size=self.size, mode=self.mode, **kwargs).clamp_(0.0, 1.0)
        return x

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _channel_stats(images: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of ``images / 255`` (float64 sums over chunks, no full float copy)."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64, device=images.device)
    squares = torch.zeros(c, dtype=torch.float64, device=images.device)
    for start in range(0, images.shape[0], chunk):
        block = images[start:start + chunk].to(torch.float64).div_(255.0)
        total += block.sum(dim=(0, 2, 3))
        squares += block.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))  # constant channel: do not divide by 0
    return mean.float(), std.float()


def _evaluate(
    network: nn.Module, images: torch.Tensor, labels: torch.Tensor, prep: _Preprocess, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on a whole set, in batches, under inference mode."""
    network.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=images.device)
    correct = torch.zeros((), dtype=torch.int64, device=images.device)
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            x = prep.normalise(prep.scale(images[start:start + batch_size]))
            y = labels[start:start + batch_size]
            logits = network(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
    n = images.shape[0]
    return float(loss_sum) / n, int(correct) / n


# ------------------------------------------------------------------------------------------ training


def train_classifier(
    train: Any,
    test: Any,
    model: str | nn.Module = "resnet18",
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float | None = None,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    nesterov: bool = True,
    warmup_epochs: float = 0.0,
    grad_clip: float | None = None,
    ricap: bool = False,
    ricap_beta: float = 0.3,
    crop_padding: int = 0,
    flip: bool = False,
    input_size: int | tuple[int, int] | None = None,
    resize_mode: str = "nearest",
    num_classes: int | None = None,
    model_options: dict[str, Any] | None = None,
    eval_batch_size: int = 512,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train a classifier on ``train`` and test it on ``test`` after every epoch.

    Parameters
    ----------
    train, test
        ``imgleak.images.LabelledImages`` or ``(images, labels)`` pairs: ``uint8 (N, C, H, W)``
        images and ``int64 (N,)`` labels; both sets must share ``C, H, W``.
    model
        A name from :data:`MODEL_NAMES` (built by :func:`build_model` with the data's channels,
        class count and image size) or a ready ``nn.Module`` (trained in place).
    epochs, batch_size
        Passes over the training set (reshuffled each epoch) and minibatch size (capped at the
        training-set size; a trailing batch of one image is dropped — BatchNorm needs two).
    lr, momentum, weight_decay, nesterov
        SGD settings; ``lr=None`` takes :data:`DEFAULT_LR` for the model (0.05 for a module).
        The rate follows a cosine from ``lr`` to 0 over all steps of the run (the paper's
        schedule; ``CosineAnnealingLR`` stepped per batch).
    warmup_epochs
        Optional linear warm-up from ``lr / (steps + 1)`` to ``lr`` over this many epochs before
        the cosine (0 = none, as in the paper; the small ViT learns faster with 1).
    grad_clip
        Clip the gradient's global L2 norm to this value before each step (``None``: no clipping,
        as in the paper).
    ricap, ricap_beta
        RICAP augmentation (see :func:`ricap`); the paper always used it with β = 0.3.
    crop_padding, flip
        Random crop after zero padding by ``crop_padding`` pixels, random horizontal flips.
    input_size, resize_mode
        Resize every batch to ``input_size`` (int or ``(H, W)``) on the fly with
        ``torch.nn.functional.interpolate`` (``resize_mode`` ∈ :data:`RESIZE_MODES`); ``"nearest"``
        repeats pixels and so keeps encrypted pixel values intact. ``None`` keeps the size.
    num_classes
        Output logits; ``None``: the larger of ``len(classes)`` and ``max(label) + 1``.
    model_options
        Extra keyword arguments for :func:`build_model` (``patch_size``, ``dim``, ``pretrained``…).
    eval_batch_size
        Batch size of the test passes (inference mode).
    seed
        Seeds the initialisation (under ``torch.random.fork_rng``: the global RNG state is left
        as it was), the shuffling and the augmentation (a CPU ``torch.Generator``, so the batches
        are the same on every device). ``None`` draws one and records it in ``settings``. On the
        CPU the same seed gives identical curves; CUDA kernels may differ in the last bits.
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``… The data are moved there.
    num_threads
        CPU threads for this run (``torch.set_num_threads``, restored afterwards); ``None``
        leaves torch's setting. On a busy machine ``1`` can be many times faster than 2 for
        these small models: a multi-threaded op waits for its slowest thread at every barrier.
    progress
        Show a tqdm bar over epochs (postfix: loss, train and test accuracy).

    Raises
    ------
    TypeError, ValueError
        Bad data or settings (the message names the argument).
    TrainingDivergedError
        The training loss became NaN or infinite (lower ``lr``).
    """
    train_images, train_labels = _as_dataset(train, "train")
    test_images, test_labels = _as_dataset(test, "test")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"train and test images must share (C, H, W); got {tuple(train_images.shape[1:])} and "
            f"{tuple(test_images.shape[1:])}"
        )
    if train_images.shape[0] < 2:
        raise ValueError(f"train needs at least 2 images, got {train_images.shape[0]}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    eval_batch_size = _positive_int(eval_batch_size, "eval_batch_size")
    if not isinstance(model, (str, nn.Module)):
        raise TypeError(f"model must be a name ({', '.join(MODEL_NAMES)}) or a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, str) and model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)} or an nn.Module; got {model!r}")
    model_name = model if isinstance(model, str) else type(model).__name__
    if lr is None:
        lr = DEFAULT_LR.get(model_name, 0.05)
    lr = _non_negative_float(lr, "lr", positive=True)
    momentum = _non_negative_float(momentum, "momentum")
    weight_decay = _non_negative_float(weight_decay, "weight_decay")
    if nesterov and momentum == 0:
        raise ValueError("nesterov=True needs momentum > 0")
    warmup_epochs = _non_negative_float(warmup_epochs, "warmup_epochs")
    if grad_clip is not None:
        grad_clip = _non_negative_float(grad_clip, "grad_clip", positive=True)
    if ricap:
        ricap_beta = _non_negative_float(ricap_beta, "ricap_beta", positive=True)
    if isinstance(crop_padding, bool) or not isinstance(crop_padding, int) or crop_padding < 0:
        raise ValueError(f"crop_padding must be a non-negative int, got {crop_padding!r}")
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}, got {resize_mode!r}")
    size = None if input_size is None else _pair(input_size, "input_size")
    if model_options is not None and not isinstance(model_options, dict):
        raise TypeError(f"model_options must be a dict or None, got {type(model_options).__name__}")
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    seed = int(seed)
    device = resolve_device(device)
    if num_threads is not None:
        num_threads = _positive_int(num_threads, "num_threads")

    found = max(_num_classes(train, train_labels), _num_classes(test, test_labels))
    if num_classes is None:
        num_classes = found
    num_classes = _positive_int(num_classes, "num_classes")
    if num_classes < found:
        raise ValueError(f"num_classes={num_classes} but the labels need at least {found} classes")

    channels = int(train_images.shape[1])
    image_hw = size if size is not None else (int(train_images.shape[2]), int(train_images.shape[3]))
    image_size: int | tuple[int, int] = image_hw[0] if image_hw[0] == image_hw[1] else image_hw

    fork_devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    threads_before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _seeded_run(
            model, model_name, model_options, channels, num_classes, image_size, fork_devices,
            train_images, train_labels, test_images, test_labels,
            epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
            weight_decay=weight_decay, nesterov=bool(nesterov), warmup_epochs=warmup_epochs,
            grad_clip=grad_clip, use_ricap=bool(ricap), ricap_beta=float(ricap_beta),
            crop_padding=crop_padding, flip=bool(flip), size=size, resize_mode=resize_mode,
            eval_batch_size=eval_batch_size, seed=seed, device=device, progress=progress,
            num_threads=num_threads,
        )
    finally:
        if num_threads is not None:
            torch.set_num_threads(threads_before)


def _seeded_run(
    model: str | nn.Module,
    model_name: str,
    model_options: dict[str, Any] | None,
    channels: int,
    num_classes: int,
    image_size: int | tuple[int, int],
    fork_devices: list[int],
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    seed: int,
    device: torch.device,
    **fit_options: Any,
) -> TrainingResult:
    """Build (under a forked, seeded global RNG) and train; the caller's RNG state is restored."""
    with torch.random.fork_rng(devices=fork_devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        if isinstance(model, str):
            network = build_model(model, channels, num_classes, image_size, **(model_options or {}))
        else:
            network = model
        network = network.to(device)
        return _fit(
            network, model_name, train_images.to(device), train_labels.to(device),
            test_images.to(device), test_labels.to(device), seed=seed, device=device,
            num_classes=num_classes, model_options=dict(model_options or {}), **fit_options,
        )


def _fit(
    network: nn.Module,
    model_name: str,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float,
    weight_decay: float,
    nesterov: bool,
    warmup_epochs: float,
    grad_clip: float | None,
    use_ricap: bool,
    ricap_beta: float,
    crop_padding: int,
    flip: bool,
    size: tuple[int, int] | None,
    resize_mode: str,
    eval_batch_size: int,
    seed: int,
    device: torch.device,
    progress: bool,
    num_classes: int,
    num_threads: int | None,
    model_options: dict[str, Any],
) -> TrainingResult:
    n_train, n_test = int(x_train.shape[0]), int(x_test.shape[0])
    batch = min(batch_size, n_train)
    n_batches = math.ceil(n_train / batch)
    # A tiny last batch (under a quarter of a batch, or a lone image) corrupts BatchNorm's running
    # statistics; it is dropped (the order is reshuffled every epoch, so no image is left out for good).
    remainder = n_train % batch
    drop_small = 0 < remainder < max(2, batch // 4)
    steps_per_epoch = n_batches - int(drop_small)

    mean, std = _channel_stats(x_train)
    prep = _Preprocess(mean, std, size, resize_mode)
    optimizer = torch.optim.SGD(
        network.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
    )
    total_steps = epochs * steps_per_epoch
    warmup_steps = min(int(round(warmup_epochs * steps_per_epoch)), total_steps - 1)

    def factor(step: int) -> float:  # linear warm-up (optional), then a cosine from 1 to 0
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(seed + 1)  # CPU: the same batches on every device
    parameters = sum(p.numel() for p in network.parameters())

    settings: dict[str, Any] = {
        "model": model_name,
        "model_options": model_options,
        "epochs": epochs,
        "batch_size": batch_size,
        "effective_batch_size": batch,
        "steps_per_epoch": steps_per_epoch,
        "optimizer": "SGD",
        "lr": lr,
        "lr_schedule": "cosine to 0 over all steps (stepped per batch), after a linear warm-up",
        "warmup_epochs": warmup_epochs,
        "warmup_steps": warmup_steps,
        "grad_clip": grad_clip,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "nesterov": nesterov,
        "ricap": use_ricap,
        "ricap_beta": ricap_beta if use_ricap else None,
        "crop_padding": crop_padding,
        "flip": flip,
        "input_size": list(size) if size is not None else None,
        "resize_mode": resize_mode,
        "image_shape": [int(s) for s in x_train.shape[1:]],
        "num_classes": num_classes,
        "mean": [float(v) for v in mean.cpu()],
        "std": [float(v) for v in std.cpu()],
        "eval_batch_size": eval_batch_size,
        "seed": seed,
        "device": str(device),
        "num_threads": torch.get_num_threads() if device.type == "cpu" else num_threads,
        "n_train": n_train,
        "n_test": n_test,
    }

    train_loss: list[float] = []
    train_acc: list[float] = []
    test_loss: list[float] = []
    test_acc: list[float] = []
    train_seconds = 0.0
    images_seen = 0
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc=f"train {model_name}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        network.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(n_train, generator=generator).to(device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct_sum = torch.zeros((), dtype=torch.float64, device=device)
        seen = 0
        for b in range(steps_per_epoch):
            rows = order[b * batch:(b + 1) * batch]
            x = prep.scale(x_train[rows])
            y = y_train[rows]
            if crop_padding or flip:
                x = _random_crop_flip(x, crop_padding, flip, generator)
            x = prep.normalise(x)
            if use_ricap:
                x, targets, weights = ricap(x, y, ricap_beta, generator)
                weights = weights.to(device)
                logits = network(x)
                per_quadrant = torch.stack([F.cross_entropy(logits, targets[k]) for k in range(4)])
                loss = (weights * per_quadrant).sum()
                with torch.no_grad():
                    hits = (logits.argmax(1)[None, :] == targets).float().sum(1)
                    correct = (weights * hits).sum()
            else:
                logits = network(x)
                loss = F.cross_entropy(logits, y)
                with torch.no_grad():
                    correct = (logits.argmax(1) == y).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(network.parameters(), grad_clip)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach().double() * rows.shape[0]
            correct_sum += correct.double()
            seen += rows.shape[0]
        epoch_loss = float(loss_sum) / seen  # one device sync per epoch
        if not math.isfinite(epoch_loss):
            raise TrainingDivergedError(
                f"training loss became {epoch_loss} in epoch {epoch} of {model_name} with lr={lr}; "
                "try a smaller lr"
            )
        train_loss.append(epoch_loss)
        train_acc.append(float(correct_sum) / seen)
        train_seconds += time.perf_counter() - epoch_start
        images_seen += seen
        t_loss, t_acc = _evaluate(network, x_test, y_test, prep, eval_batch_size)
        test_loss.append(t_loss)
        test_acc.append(t_acc)
        bar.set_postfix(loss=f"{epoch_loss:.3f}", acc=f"{train_acc[-1]:.3f}", test=f"{t_acc:.3f}")
    bar.close()
    network.eval()
    seconds = time.perf_counter() - start
    best = int(np.argmax(test_acc))
    return TrainingResult(
        model=model_name,
        train_loss=train_loss,
        train_accuracy=train_acc,
        test_loss=test_loss,
        test_accuracy=test_acc,
        best_test_accuracy=test_acc[best],
        best_epoch=best + 1,
        final_test_accuracy=test_acc[-1],
        seconds=seconds,
        images_per_second=images_seen / max(train_seconds, 1e-9),
        n_train=n_train,
        n_test=n_test,
        num_classes=num_classes,
        parameters=parameters,
        settings=settings,
        network=network,
    )


__all__ = [
    "DEFAULT_LR",
    "MODEL_NAMES",
    "RESIZE_MODES",
    "SmallViT",
    "TrainingDivergedError",
    "TrainingResult",
    "auto_patch_size",
    "build_model",
    "ricap",
    "split",
    "train_classifier",
]
