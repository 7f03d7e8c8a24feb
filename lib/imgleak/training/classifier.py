"""The classifier training loop: train a network on labelled ``uint8`` images, test it after
every epoch, and return the curves with the settings that produced them.

The settings follow the RVT paper's protocol where a 2-core CPU allows it:

* Optimiser: SGD, momentum 0.9, Nesterov, weight decay (paper: 1e-4…5e-4; default here 5e-4),
  cross-entropy loss.
* Learning rate: cosine annealing from ``lr`` to 0 over **all optimisation steps** of the run
  (the closed form of ``CosineAnnealingLR(T_max=epochs * batches_per_epoch)``, stepped after
  every batch). Optional extras, off by default: a linear warm-up (``warmup_epochs``) and
  gradient-norm clipping (``grad_clip``); the small ViT trained by SGD from scratch learns
  faster with ``warmup_epochs=1, grad_clip=1.0``.
* Augmentation: optional RICAP (:func:`ricap`; the paper always uses it with β = 0.3), optional
  random crop with zero padding and horizontal flip (off by default: flipping digits changes
  them). The paper's ColorJitter is not reproduced.
* Inputs: ``uint8`` images scaled to ``[0, 1]``, optionally resized (``input_size``), then
  normalised by the **training set's** per-channel mean and standard deviation.
* Metric: test accuracy after every epoch; the best over the epochs (the paper's metric) and the
  last one are both kept.

The networks are built by :func:`imgleak.nets.classifiers.build_model`. Training speeds are
recorded in ``bench/README.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import _checks
from ..images import LabelledImages
from ..nets.classifiers import MODEL_NAMES, build_model
from ..results import Result
from .run_settings import TrainingSettings, batches_per_epoch, configured, filled
from .seeding import seeded_training

DEFAULT_LR: dict[str, float] = {"resnet18": 0.05, "vit": 0.05, "vit_b_16": 0.005}
"""Learning rate used when ``lr=None``. ResNet-18: the paper uses 0.1 with batch 256; 0.05 suits
the smaller batches of CPU runs. ViT-B/16: the paper's 0.005. Small ViT: 0.05 (chosen on the
digits; SGD from scratch needs a larger step than a pretrained ViT)."""

RESIZE_MODES: tuple[str, ...] = ("nearest", "bilinear", "bicubic", "area")
"""The ``resize_mode`` values (``torch.nn.functional.interpolate`` modes)."""

LR_SCHEDULE = "cosine to 0 over all steps (stepped per batch), after a linear warm-up"


class TrainingDivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite (a too large learning rate, usually)."""


# ------------------------------------------------------------------------------------------ config


@dataclass(frozen=True, kw_only=True)
class ClassifierConfig(TrainingSettings):
    """The settings of :func:`train_classifier`, each with its default; ``dataclasses.asdict`` of the
    run's filled copy (:meth:`for_data`) is its settings record (:attr:`TrainingResult.settings`).

    Chosen by the caller (and :class:`~imgleak.training.run_settings.TrainingSettings`'s ``epochs``,
    ``batch_size`` (capped at the training-set size), ``seed``, ``device``, ``num_threads``):

    * ``lr``: SGD's learning rate; ``None``: :data:`DEFAULT_LR` for the model, else 0.05;
    * ``momentum``, ``weight_decay``, ``nesterov``: SGD's;
    * ``warmup_epochs``: linear warm-up from ``lr / (steps + 1)`` before the cosine (0 = none);
    * ``grad_clip``: global L2 norm of the gradients (``None`` = no clipping);
    * ``ricap``, ``ricap_beta``: RICAP (:func:`ricap`) and its beta (recorded ``None`` when off);
    * ``crop_padding``, ``flip``: random crop after zero padding, random horizontal flip;
    * ``input_size`` (``[H, W]`` or a side: every batch resized on the fly with ``resize_mode``;
      ``"nearest"`` keeps encrypted pixel values intact) or ``None``;
    * ``num_classes``: ``None`` takes the larger of ``len(classes)`` and ``max(label) + 1``;
    * ``model_options``: keyword arguments of :func:`~imgleak.nets.classifiers.build_model`;
    * ``eval_batch_size``: batch size of the per-epoch test.

    Filled from the data and the model by :meth:`for_data` (never passed): ``model`` (the name, or
    the module's class name), ``image_shape`` ``[C, H, W]``, ``n_train``, ``n_test``, ``mean`` and
    ``std`` (per channel, of the training images / 255), ``effective_batch_size``,
    ``steps_per_epoch`` (a trailing batch under a quarter of a batch, or of one image, is dropped:
    it corrupts BatchNorm's statistics), ``warmup_steps``, and ``num_threads`` on a CPU (the
    caller's count when ``None``). ``optimizer`` and ``lr_schedule`` describe the schedule.

    >>> ClassifierConfig(epochs=2, lr=0.1).nesterov
    True
    >>> ClassifierConfig(momentum=0.0)
    Traceback (most recent call last):
    ...
    ValueError: nesterov=True needs momentum > 0
    """

    model: str | None = field(default=None, init=False)
    model_options: dict[str, Any] | None = None
    effective_batch_size: int | None = field(default=None, init=False)
    steps_per_epoch: int | None = field(default=None, init=False)
    optimizer: str = field(default="SGD", init=False)
    lr_schedule: str = field(default=LR_SCHEDULE, init=False)
    warmup_epochs: float = 0.0
    warmup_steps: int | None = field(default=None, init=False)
    grad_clip: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    ricap: bool = False
    ricap_beta: float | None = 0.3
    crop_padding: int = 0
    flip: bool = False
    input_size: int | tuple[int, int] | list[int] | None = None
    resize_mode: str = "nearest"
    image_shape: list[int] | None = field(default=None, init=False)
    num_classes: int | None = None
    mean: list[float] | None = field(default=None, init=False)
    std: list[float] | None = field(default=None, init=False)
    eval_batch_size: int = 512
    n_train: int | None = field(default=None, init=False)
    n_test: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_optimiser()
        self._check_augmentation()
        if self.model_options is not None and not isinstance(self.model_options, dict):
            raise TypeError(f"model_options must be a dict or None, got {type(self.model_options).__name__}")
        self._set("model_options", dict(self.model_options or {}))
        self._set("eval_batch_size", _checks.positive_int(self.eval_batch_size, "eval_batch_size"))
        if self.num_classes is not None:
            self._set("num_classes", _checks.positive_int(self.num_classes, "num_classes"))

    def _check_optimiser(self) -> None:
        for name in ("momentum", "weight_decay", "warmup_epochs"):
            self._set(name, _checks.number(getattr(self, name), name))
        self._set("nesterov", _checks.boolean(self.nesterov, "nesterov"))
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        if self.grad_clip is not None:
            self._set("grad_clip", _checks.number(self.grad_clip, "grad_clip", positive=True))

    def _check_augmentation(self) -> None:
        self._set("ricap", _checks.boolean(self.ricap, "ricap"))
        if self.ricap:
            self._set("ricap_beta", _checks.number(self.ricap_beta, "ricap_beta", positive=True))
        self._set("crop_padding", _checks.non_negative_int(self.crop_padding, "crop_padding"))
        self._set("flip", _checks.boolean(self.flip, "flip"))
        self._set("resize_mode", _checks.choice(self.resize_mode, "resize_mode", RESIZE_MODES))
        size = None if self.input_size is None else list(_checks.size_pair(self.input_size, "input_size"))
        self._set("input_size", size)

    def for_data(self, model: str | nn.Module, data: _Data, classes_needed: int) -> ClassifierConfig:
        """This config filled for ``model`` trained on ``data`` (whose labels need ``classes_needed``)."""
        name = _model_name(model)
        num_classes = classes_needed if self.num_classes is None else self.num_classes
        if num_classes < classes_needed:
            raise ValueError(f"num_classes={num_classes} but the labels need at least {classes_needed} classes")
        n_train = data.x_train.shape[0]
        batch = min(self.batch_size, n_train)
        steps = batches_per_epoch(n_train, batch, max(2, batch // 4))
        threads = self.num_threads
        if threads is None and torch.device(self.device).type == "cpu":
            threads = torch.get_num_threads()
        return filled(
            self, model=name, lr=DEFAULT_LR.get(name, 0.05) if self.lr is None else self.lr,
            ricap_beta=self.ricap_beta if self.ricap else None, image_shape=list(data.x_train.shape[1:]),
            num_classes=num_classes, n_train=n_train, n_test=data.x_test.shape[0], effective_batch_size=batch,
            steps_per_epoch=steps, warmup_steps=min(int(round(self.warmup_epochs * steps)), self.epochs * steps - 1),
            num_threads=threads)

    def with_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> ClassifierConfig:
        """This config with the training images' per-channel ``mean`` and ``std`` recorded."""
        return filled(self, mean=[float(v) for v in mean.cpu()], std=[float(v) for v in std.cpu()])

    def lr_factor(self) -> Callable[[int], float]:
        """The learning-rate multiplier of step ``k``: the linear warm-up, then a cosine from 1 to 0."""
        warmup, total = self.warmup_steps, self.epochs * self.steps_per_epoch

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (total - warmup)))

        return factor


# ------------------------------------------------------------------------------------------ result


@dataclass
class TrainingResult(Result):
    """What :func:`train_classifier` measured, and the settings that produced it.

    Per-epoch lists (one entry per epoch): ``train_loss`` (mean cross-entropy over the epoch's
    batches; RICAP-mixed when RICAP is on), ``train_accuracy`` (on the augmented batches, RICAP
    accuracy weighted by patch area), ``test_loss`` and ``test_accuracy`` (whole test set, no
    augmentation). ``best_test_accuracy`` is the paper's metric (maximum over epochs, at
    ``best_epoch``, 1-based); ``final_test_accuracy`` is the last epoch's. Accuracies are
    fractions in [0, 1]. ``images_per_second`` is the training throughput (training passes
    only). ``settings`` is ``asdict`` of the run's :class:`ClassifierConfig`. ``network`` is the
    trained model (last epoch, eval mode); use :meth:`evaluate` to test it on other data,
    normalised the same way.
    """

    _not_data: ClassVar[tuple[str, ...]] = ("network",)

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
        batch_size = _checks.positive_int(batch_size, "batch_size")
        device = next(self.network.parameters()).device
        prep = _Preprocess.from_settings(self.settings, device)
        _, accuracy = _evaluate(self.network, images.to(device), labels.to(device), prep, batch_size)
        return accuracy


# ------------------------------------------------------------------------------------------ data


class _Data(NamedTuple):
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device: torch.device) -> _Data:
        return _Data(*(t.to(device) for t in self))


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


def _train_test(train: Any, test: Any) -> _Data:
    """The checked training and test sets (same ``C, H, W``; at least two training images)."""
    train_images, train_labels = _as_dataset(train, "train")
    test_images, test_labels = _as_dataset(test, "test")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(
            f"train and test images must share (C, H, W); got {tuple(train_images.shape[1:])} and "
            f"{tuple(test_images.shape[1:])}"
        )
    if train_images.shape[0] < 2:
        raise ValueError(f"train needs at least 2 images, got {train_images.shape[0]}")
    return _Data(train_images, train_labels, test_images, test_labels)


def _classes_needed(data: Any, labels: torch.Tensor) -> int:
    classes = getattr(data, "classes", None)
    declared = len(classes) if isinstance(classes, (tuple, list)) else 0
    return max(declared, int(labels.max()) + 1)


def _model_name(model: Any) -> str:
    if not isinstance(model, (str, nn.Module)):
        raise TypeError(f"model must be a name ({', '.join(MODEL_NAMES)}) or a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, str) and model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)} or an nn.Module; got {model!r}")
    return model if isinstance(model, str) else type(model).__name__


# ------------------------------------------------------------------------------------------ split


def split(data: Any, test_fraction: float = 0.25, seed: int = 0) -> tuple[LabelledImages, LabelledImages]:
    """A seeded train/test split stratified by label: ``(train, test)`` LabelledImages.

    Each class contributes ``round(count * test_fraction)`` images to the test part (picked at
    random with a ``torch.Generator`` seeded by ``seed``); both parts keep the original order.
    Useful for scikit-learn's digits, which have no official test split. ``data`` may be a
    LabelledImages or an ``(images, labels)`` pair (then the classes are ``"0", "1", …``).

    >>> import torch
    >>> train, test = split((torch.zeros(8, 1, 2, 2, dtype=torch.uint8), torch.arange(8) % 2), 0.5)
    >>> len(train), len(test), test.labels.tolist()
    (4, 4, [0, 1, 0, 1])
    """
    images, labels = _as_dataset(data, "data")
    test_fraction = _checks.number(test_fraction, "test_fraction")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    seed = _checks.integer(seed, "seed")
    n = labels.shape[0]
    cpu_labels = labels.cpu()
    is_test = _stratified_test_mask(cpu_labels, test_fraction, torch.Generator().manual_seed(seed))
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


def _stratified_test_mask(labels: torch.Tensor, test_fraction: float, generator: torch.Generator) -> torch.Tensor:
    """``True`` for the ``round(count * test_fraction)`` randomly chosen test images of each class."""
    n = labels.shape[0]
    perm = torch.randperm(n, generator=generator)
    order = torch.argsort(labels[perm], stable=True)  # grouped by class, random order inside a class
    grouped = perm[order]
    counts = torch.bincount(labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[labels[grouped]]  # position inside its class
    n_test = torch.floor(counts.to(torch.float64) * test_fraction + 0.5).to(torch.int64)
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[grouped] = rank < n_test[labels[grouped]]
    return is_test


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

    >>> import torch
    >>> generator = torch.Generator().manual_seed(0)
    >>> mixed, targets, weights = ricap(torch.rand(4, 3, 8, 8), torch.arange(4), 0.3, generator)
    >>> mixed.shape, targets.shape, float(weights.sum())
    (torch.Size([4, 3, 8, 8]), torch.Size([4, 4]), 1.0)
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor shaped (N, C, H, W), got {getattr(images, 'shape', type(images).__name__)}")
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be a tensor shaped (N,) with N = {images.shape[0]}")
    beta = _checks.number(beta, "beta", positive=True)
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

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], device: torch.device) -> _Preprocess:
        """The preprocessing a run's settings record describes, its statistics on ``device``."""
        size = settings.get("input_size")
        return cls(
            torch.tensor(settings["mean"], device=device),
            torch.tensor(settings["std"], device=device),
            None if size is None else _checks.size_pair(size, "input_size"),
            settings.get("resize_mode", "nearest"),
        )

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
    config: ClassifierConfig = ClassifierConfig(),
    *,
    progress: bool = True,
    **overrides: Any,
) -> TrainingResult:
    """Train a classifier on ``train`` and test it on ``test`` after every epoch.

    ``train`` and ``test`` are ``imgleak.images.LabelledImages`` or ``(images, labels)`` pairs:
    ``uint8 (N, C, H, W)`` images sharing ``C, H, W`` and ``int64 (N,)`` labels. ``model`` is a
    name from :data:`~imgleak.nets.classifiers.MODEL_NAMES` (built with the data's channels, class
    count and image size, and ``model_options``) or a ready ``nn.Module`` (trained in place).
    The settings are ``config``'s (:class:`ClassifierConfig`, where each is described), with any
    keyword ``overrides`` of its fields applied; ``progress`` shows a tqdm bar over the epochs.

    ``seed`` seeds the initialisation (under
    :func:`~imgleak.training.seeding.seeded_training`: the caller's RNG state and thread count
    come back), the shuffling and the augmentation (a CPU ``torch.Generator`` seeded with
    ``seed + 1``, so the batches are the same on every device). On the CPU the same seed gives
    identical curves; CUDA kernels may differ in the last bits.

    Raises ``TypeError``/``ValueError`` for bad data or settings (the message names the
    argument) and :class:`TrainingDivergedError` when the loss becomes NaN or infinite.

    >>> from imgleak.images import load_digits
    >>> digits = load_digits()
    >>> result = train_classifier((digits.images[:64], digits.labels[:64]), (digits.images[64:96],
    ...                           digits.labels[64:96]), "resnet18", epochs=1, batch_size=32, device="cpu",
    ...                           progress=False)
    >>> result.settings["steps_per_epoch"], len(result.test_accuracy)
    (2, 1)
    """
    config = configured(config, ClassifierConfig, overrides)
    data = _train_test(train, test)
    needed = max(_classes_needed(train, data.y_train), _classes_needed(test, data.y_test))
    progress = _checks.boolean(progress, "progress")
    threads = config.num_threads  # None leaves the caller's count as it is (the record shows it)
    config = config.for_data(model, data, needed)
    device = torch.device(config.device)
    with seeded_training(config.seed, device, threads):
        network = _network(model, config).to(device)
        data = data.to(device)
        config = config.with_statistics(*_channel_stats(data.x_train))
        return _fit(network, config, data, progress)


def _network(model: str | nn.Module, config: ClassifierConfig) -> nn.Module:
    """``model`` itself when a module, else the named network built for the run's images."""
    if isinstance(model, nn.Module):
        return model
    height, width = config.input_size or config.image_shape[1:]
    image_size = height if height == width else (height, width)
    return build_model(model, config.image_shape[0], config.num_classes, image_size, **config.model_options)


def _fit(network: nn.Module, config: ClassifierConfig, data: _Data, progress: bool) -> TrainingResult:
    """Train ``network`` (on ``data``'s device) as ``config`` says, testing after every epoch."""
    settings = asdict(config)
    prep = _Preprocess.from_settings(settings, data.x_train.device)
    optimizer = torch.optim.SGD(network.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=config.nesterov)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, config.lr_factor())
    generator = torch.Generator().manual_seed(config.seed + 1)  # CPU: the same batches on every device
    parameters = sum(p.numel() for p in network.parameters())
    curves: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")}
    train_seconds, images_seen, start = 0.0, 0, time.perf_counter()
    epochs = range(1, config.epochs + 1)
    bar = tqdm(epochs, desc=f"train {config.model}", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        epoch_start = time.perf_counter()
        loss, accuracy, seen = _train_epoch(network, optimizer, scheduler, data, prep, generator, config)
        if not math.isfinite(loss):
            raise TrainingDivergedError(
                f"training loss became {loss} in epoch {epoch} of {config.model} with lr={config.lr}; "
                "try a smaller lr"
            )
        train_seconds += time.perf_counter() - epoch_start
        images_seen += seen
        test_loss, test_accuracy = _evaluate(network, data.x_test, data.y_test, prep, config.eval_batch_size)
        for name, value in zip(curves, (loss, accuracy, test_loss, test_accuracy)):
            curves[name].append(value)
        bar.set_postfix(loss=f"{loss:.3f}", acc=f"{accuracy:.3f}", test=f"{test_accuracy:.3f}")
    bar.close()
    network.eval()
    seconds = time.perf_counter() - start
    best = int(np.argmax(curves["test_accuracy"]))
    return TrainingResult(
        model=config.model, **curves, best_test_accuracy=curves["test_accuracy"][best], best_epoch=best + 1,
        final_test_accuracy=curves["test_accuracy"][-1], seconds=seconds,
        images_per_second=images_seen / max(train_seconds, 1e-9), n_train=config.n_train, n_test=config.n_test,
        num_classes=config.num_classes, parameters=parameters, settings=settings, network=network,
    )


def _train_epoch(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    data: _Data,
    prep: _Preprocess,
    generator: torch.Generator,
    config: ClassifierConfig,
) -> tuple[float, float, int]:
    """One pass over a fresh shuffle of the training set: ``(mean loss, accuracy, images seen)``."""
    network.train()
    device, batch = data.x_train.device, config.effective_batch_size
    order = torch.randperm(config.n_train, generator=generator).to(device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct_sum = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    for b in range(config.steps_per_epoch):
        rows = order[b * batch:(b + 1) * batch]
        x = prep.scale(data.x_train[rows])
        y = data.y_train[rows]
        if config.crop_padding or config.flip:
            x = _random_crop_flip(x, config.crop_padding, config.flip, generator)
        loss, correct = _loss_and_hits(network, prep.normalise(x), y, config, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach().double() * rows.shape[0]
        correct_sum += correct.double()
        seen += rows.shape[0]
    return float(loss_sum) / seen, float(correct_sum) / seen, seen  # one device sync per epoch


def _loss_and_hits(
    network: nn.Module, x: torch.Tensor, y: torch.Tensor, config: ClassifierConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's training loss and its (RICAP area-weighted) count of correct predictions."""
    if not config.ricap:
        logits = network(x)
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            return loss, (logits.argmax(1) == y).sum()
    x, targets, weights = ricap(x, y, config.ricap_beta, generator)
    weights = weights.to(x.device)
    logits = network(x)
    per_quadrant = torch.stack([F.cross_entropy(logits, targets[k]) for k in range(4)])
    loss = (weights * per_quadrant).sum()
    with torch.no_grad():
        hits = (logits.argmax(1)[None, :] == targets).float().sum(1)
        return loss, (weights * hits).sum()


__all__ = [
    "DEFAULT_LR",
    "RESIZE_MODES",
    "ClassifierConfig",
    "TrainingDivergedError",
    "TrainingResult",
    "ricap",
    "split",
    "train_classifier",
]
