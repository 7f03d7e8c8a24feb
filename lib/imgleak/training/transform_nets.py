"""Training the learned schemes TN-model and TN-GAN; the trained U-Net is the key
(:class:`~imgleak.ciphers.transform_net.TransformNet`) of :class:`~imgleak.ciphers.transform_net.TNModel`
/ :class:`~imgleak.ciphers.transform_net.TNGAN`.

TN-model (Ito, Kinoshita & Kiya, GCCE 2020, arXiv 2008.03143) — :func:`train_tn_model`
    A U-Net ``T`` trained on plain images so that a classifier ``f`` **pre-trained on plain
    images and frozen** still classifies ``T(x)`` correctly, while ``T(x)`` looks unlike ``x``::

        loss = CE(f(T(x)), y) − λ · d(T(x), x),   d = MSE (default) or 1 − SSIM

    (our reading of the paper's two terms; the exact loss is not verified — see
    ``reference/learnable-encryption-attacks.md`` §1.3). The protected images serve a model
    trained on plain images: they are for **testing**, not for training a new model. Labels:
    any class labels; the chapter's default data (:func:`imgleak.attacks.datasets.photo_crops`)
    label every crop with the **index of its source photo**. When no classifier is given, a
    small CNN (:class:`~imgleak.nets.small_cnn.SmallClassifier`) is trained on the plain images
    first (Adam, ``classifier_epochs``).

TN-GAN (Sirichotedumrong & Kiya, EUSIPCO 2020, arXiv 2006.01342) — :func:`train_tn_gan`
    An **unpaired** plain → protected translation trained CycleGAN-style (Zhu et al. 2017) at
    small scale: generators ``G`` (plain → protected, the key) and ``F`` (protected → plain),
    both U-Nets, two DCGAN-style patch discriminators, least-squares GAN losses and an L1 cycle
    loss (weight ``cycle_weight``, CycleGAN's 10). The "protected" target domain is images
    encrypted by a conventional perceptual encryption — assumption, as the paper's exact target
    is not verified: by default **pixel-wise encryption with a different key per image**
    (:class:`~imgleak.ciphers.pixelwise.PixelwiseEncryption` ``("different")``) applied to a
    disjoint half of the training images, so that the two domains share no image. Protected
    images can be used for training and testing (the same fixed network transforms every image).

Each run's settings are one frozen, validated dataclass (:class:`TNModelConfig`,
:class:`TNGANConfig`) whose ``asdict()`` is the result's ``settings``.

:func:`train_key` trains the key of any learned scheme by its registered name (the scorecard and
the attacks chapter both use it).
"""

from __future__ import annotations

import time
from dataclasses import InitVar, asdict, dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._checks import boolean, choice, number, positive_int
from ..ciphers.base import Cipher
from ..ciphers.pixelwise import PixelwiseEncryption
from ..ciphers.transform_net import TNGAN, TNModel, TransformNet, TransformNetCipher
from ..metrics import ssim
from ..nets.discriminator import Discriminator, dcgan_init
from ..nets.small_cnn import Normalised, SmallClassifier
from ..ciphers.unet import UNet
from ..results import Result
from ..tensors import run_network, to_uint8, to_unit
from .common import EpochClock, GANSettings, class_labels, finite, image_set, shuffled_batches, soft_ssim
from .run_settings import TrainingSettings, configured, filled
from .seeding import seeded_training

DISSIMILARITIES = ("mse", "ssim")
"""The TN-model's dissimilarity terms: mean squared error, or 1 − SSIM (7 × 7 window)."""

PAPER_TN_GAN = {"lr": 2e-4, "beta1": 0.5, "cycle_weight": 10.0}
"""CycleGAN's optimiser and cycle weight (Zhu et al. 2017), used for the TN-GAN here."""


def unet_config(x: torch.Tensor, base: Any, depth: Any) -> dict[str, int]:
    """The U-Net configuration for images like ``x`` (as many channels out as in); a ``ValueError``
    unless ``base``/``depth`` are positive ints and the sides of ``x`` multiples of ``2 ** depth``."""
    base, depth = positive_int(base, "base"), positive_int(depth, "depth")
    multiple = 2**depth
    if x.shape[-2] % multiple or x.shape[-1] % multiple:
        raise ValueError(f"images are {x.shape[-2]}x{x.shape[-1]}; with depth={depth} the sides must be multiples "
                         f"of {multiple}")
    channels = int(x.shape[1])
    return {"in_channels": channels, "out_channels": channels, "base": base, "depth": depth}


def unet_settings(unet: Any, base: Any, depth: Any) -> dict[str, int]:
    """The U-Net options ``{"base": ..., "depth": ...}`` of ``unet`` with the ``base``/``depth``
    shorthands (``None``: keep ``unet``'s) applied, checked.

    >>> unet_settings({"base": 16, "depth": 3}, None, 2)
    {'base': 16, 'depth': 2}
    """
    if not isinstance(unet, dict):
        raise TypeError(f"unet must be a dict with 'base' and 'depth', got {type(unet).__name__}")
    base = unet.get("base") if base is None else base
    depth = unet.get("depth") if depth is None else depth
    return {"base": positive_int(base, "base"), "depth": positive_int(depth, "depth")}


# ------------------------------------------------------------------------------------ results


@dataclass
class TransformTrainingResult(Result):
    """What :func:`train_tn_model` / :func:`train_tn_gan` measured, and the trained key.

    ``key``: the trained :class:`~imgleak.ciphers.transform_net.TransformNet`; ``cipher``: the
    scheme that uses it (``TNModel()`` or ``TNGAN()``), so ``cipher.encrypt(x, key)`` protects
    images. ``losses``: per-epoch means by name (TN-model: ``total``, ``cross_entropy``,
    ``dissimilarity``, ``accuracy`` of the frozen classifier on the outputs; TN-GAN: ``g_adv``,
    ``cycle``, ``d``); ``metrics``: end-of-training numbers (see each function);
    ``images_per_second``: transform-training throughput (images through the generator per
    second of training, not counting the classifier's pre-training); ``state_dict``: a CPU copy
    of the key's weights; ``networks``: the other trained networks (TN-model: the frozen
    ``classifier``; TN-GAN: ``inverse_generator`` and the two discriminators). :meth:`to_dict`
    gives the scheme's ``name`` and the numbers, without networks or weights.
    """

    key: TransformNet
    cipher: TransformNetCipher
    losses: dict[str, list[float]]
    metrics: dict[str, float]
    seconds: float
    images_per_second: float
    n_train: int
    parameters: int
    settings: dict[str, Any]
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    networks: dict[str, nn.Module] = field(default_factory=dict, repr=False, compare=False)

    _not_data = ("key", "cipher", "state_dict", "networks")

    def to_dict(self) -> dict[str, Any]:
        """``name`` (the scheme) and the numbers and settings as plain Python values."""
        return {"name": self.key.name, **super().to_dict()}


def _result(network: UNet, cipher: TransformNetCipher, settings: dict[str, Any], start: float, **numbers: Any
            ) -> TransformTrainingResult:
    key = TransformNet(network, cipher.name, settings)
    return TransformTrainingResult(key=key, cipher=cipher, seconds=time.perf_counter() - start, settings=settings,
                                   state_dict=key.state_dict(), **numbers)


# ------------------------------------------------------------------------------------ TN-model


@dataclass(frozen=True, kw_only=True)
class TNModelConfig(TrainingSettings):
    """The settings of :func:`train_tn_model`, each with its default; ``asdict()`` of the run's
    filled copy (:meth:`for_data`) is the result's ``settings``.

    Chosen by the caller (and :class:`~imgleak.training.run_settings.TrainingSettings`'s ``seed``
    (``None`` draws one), ``device``, ``num_threads``):

    * ``lam``, ``dissimilarity``: ``loss = CE(f(T(x)), y) − lam · d(T(x), x)`` with ``d`` =
      ``"mse"`` (on [0, 1]) or ``"ssim"`` (1 − :func:`~imgleak.training.common.soft_ssim`; images of
      at least 7 × 7). How λ trades accuracy against dissimilarity: see ``bench/README.md``;
    * ``epochs``, ``batch_size``, ``lr``: Adam (β = 0.9, 0.999) on the U-Net (the paper's schedule
      is not verified); a trailing batch of one image is dropped;
    * ``unet``: ``{"base": width, "depth": depth}`` of :class:`~imgleak.ciphers.unet.UNet` (image
      sides multiples of ``2 ** depth``); ``base=``/``depth=`` alone set one of them;
    * ``num_classes``: logits of the classifier trained here; ``None``: ``max(label) + 1``;
    * ``classifier_epochs``, ``classifier_lr``, ``classifier_width``: the
      :class:`~imgleak.nets.small_cnn.SmallClassifier` trained on the plain images (Adam) when no
      classifier is given (recorded ``None`` when one is).

    Filled by :meth:`for_data`: ``unet`` (with the images' channels), ``num_classes``,
    ``classifier`` (``"SmallClassifier trained here"`` or the given module's class),
    ``image_shape``, ``evaluated_on``.
    """

    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    lam: float = 5.0
    dissimilarity: str = "mse"
    optimizer: str = field(default="Adam(0.9, 0.999)", init=False)
    unet: dict[str, int] = field(default_factory=lambda: {"base": 16, "depth": 3})
    base: InitVar[int | None] = None
    depth: InitVar[int | None] = None
    num_classes: int | None = None
    classifier: str | None = field(default=None, init=False)
    classifier_epochs: int | None = 5
    classifier_lr: float | None = 1e-3
    classifier_width: int | None = 32
    image_shape: list[int] | None = field(default=None, init=False)
    evaluated_on: str | None = field(default=None, init=False)

    TRAINED_HERE: ClassVar[str] = "SmallClassifier trained here"

    def __post_init__(self, base: int | None, depth: int | None) -> None:  # type: ignore[override]
        super().__post_init__()
        self._set("lam", number(self.lam, "lam"))
        choice(self.dissimilarity, "dissimilarity", DISSIMILARITIES)
        self._set("unet", unet_settings(self.unet, base, depth))
        if self.num_classes is not None:
            self._set("num_classes", positive_int(self.num_classes, "num_classes"))
        self._set("classifier_epochs", positive_int(self.classifier_epochs, "classifier_epochs"))
        self._set("classifier_lr", number(self.classifier_lr, "classifier_lr", positive=True))
        self._set("classifier_width", positive_int(self.classifier_width, "classifier_width"))

    def for_data(self, x: torch.Tensor, y: torch.Tensor, given: nn.Module | None, evaluated_on: str
                 ) -> TNModelConfig:
        """This config filled for images ``x`` with labels ``y`` and the ``given`` classifier (or ``None``)."""
        num_classes = int(y.max()) + 1 if self.num_classes is None else self.num_classes
        if int(y.max()) >= num_classes:
            raise ValueError(f"labels go up to {int(y.max())} but num_classes={num_classes}")
        if self.dissimilarity == "ssim" and min(x.shape[-2:]) < 7:
            raise ValueError("dissimilarity='ssim' needs images of at least 7x7 pixels")
        here = given is None
        return filled(self, unet=unet_config(x, **self.unet), num_classes=num_classes,
                      classifier=self.TRAINED_HERE if here else type(given).__name__,
                      classifier_epochs=self.classifier_epochs if here else None,
                      classifier_lr=self.classifier_lr if here else None,
                      classifier_width=self.classifier_width if here else None,
                      image_shape=list(x.shape[1:]), evaluated_on=evaluated_on)


def classifier_module(classifier: Any) -> nn.Module:
    """An ``nn.Module`` on [0, 1] images from a module or an :class:`imgleak.training.classifier.TrainingResult`."""
    if isinstance(classifier, nn.Module):
        return classifier
    network = getattr(classifier, "network", None)
    settings = getattr(classifier, "settings", None)
    if isinstance(network, nn.Module) and isinstance(settings, dict) and "mean" in settings:
        if settings.get("input_size") is not None:
            raise ValueError("classifier was trained with input_size (resized inputs); train it at the images' size")
        return Normalised(network, settings["mean"], settings["std"])
    raise TypeError(
        "classifier must be None (train a SmallClassifier), an nn.Module taking [0, 1] images, or an "
        f"imgleak.training.classifier.TrainingResult; got {type(classifier).__name__}"
    )


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, transform: nn.Module | None,
              batch_size: int = 256) -> tuple[float, torch.Tensor | None]:
    """Accuracy of ``model`` on uint8 ``x`` (optionally through ``transform``); also the transformed uint8."""
    model.eval()
    device = next(model.parameters()).device
    correct, outs = 0, []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            inputs = to_unit(x[start:start + batch_size].to(device))
            if transform is not None:
                transform.eval()
                inputs = to_uint8(transform(inputs))
                outs.append(inputs)
                inputs = to_unit(inputs)  # classify what a user of the cipher would get: 8-bit images
            correct += int((model(inputs).argmax(1) == y[start:start + batch_size].to(device)).sum())
    return correct / x.shape[0], (torch.cat(outs) if outs else None)


def _tn_model_data(images: Any, labels: Any, eval_images: Any, eval_labels: Any
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training images and labels, and where the end metrics are measured (default: the same)."""
    x = image_set(images, "images")
    y = class_labels(labels, x.shape[0], "labels")
    if (eval_images is None) != (eval_labels is None):
        raise ValueError("give both eval_images and eval_labels, or neither")
    if eval_images is None:
        return x, y, x, y
    ex = image_set(eval_images, "eval_images", minimum=1)
    if ex.shape[1:] != x.shape[1:]:
        raise ValueError(f"eval_images must be shaped (N, {', '.join(map(str, x.shape[1:]))}), got {tuple(ex.shape)}")
    return x, y, ex, class_labels(eval_labels, ex.shape[0], "eval_labels")


def _plain_classifier(xd: torch.Tensor, yd: torch.Tensor, config: TNModelConfig, generator: torch.Generator,
                      progress: bool) -> nn.Module:
    """A :class:`SmallClassifier` trained on the plain images (Adam, ``classifier_epochs``)."""
    device = xd.device
    model = SmallClassifier(xd.shape[1], config.num_classes, config.classifier_width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.classifier_lr)
    bar = tqdm(range(config.classifier_epochs), desc="plain classifier", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        for rows in shuffled_batches(xd.shape[0], config.batch_size, generator):
            rows = rows.to(device)
            loss = F.cross_entropy(model(to_unit(xd[rows])), yd[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return model


def _tn_model_epoch(network: UNet, model: nn.Module, optimizer: torch.optim.Optimizer, xd: torch.Tensor,
                    yd: torch.Tensor, config: TNModelConfig, generator: torch.Generator) -> tuple[list[float], int]:
    """One pass over the images: the means of (total, cross-entropy, dissimilarity, accuracy) and the image count."""
    network.train()
    sums = torch.zeros(4, dtype=torch.float64, device=xd.device)
    count = 0
    for rows in shuffled_batches(xd.shape[0], config.batch_size, generator):
        rows = rows.to(xd.device)
        plain = to_unit(xd[rows])
        out = network(plain)
        logits = model(out)
        ce = F.cross_entropy(logits, yd[rows])
        d = F.mse_loss(out, plain) if config.dissimilarity == "mse" else 1 - soft_ssim(out, plain).mean()
        loss = ce - config.lam * d
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        k = rows.numel()
        acc = (logits.detach().argmax(1) == yd[rows]).float().mean()
        sums += torch.stack([loss.detach(), ce.detach(), d.detach(), acc]).double() * k
        count += k
    return [float(v) / count for v in sums.cpu()], count


def _train_tn_model_network(model: nn.Module, xd: torch.Tensor, yd: torch.Tensor, config: TNModelConfig,
                            generator: torch.Generator, progress: bool
                            ) -> tuple[UNet, dict[str, list[float]], EpochClock]:
    """The U-Net trained against the frozen ``model``; its per-epoch losses and the epoch clock."""
    network = UNet(**config.unet).to(xd.device)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    losses: dict[str, list[float]] = {"total": [], "cross_entropy": [], "dissimilarity": [], "accuracy": []}
    clock = EpochClock()
    bar = tqdm(range(config.epochs), desc="TN-model", disable=not progress)
    for _ in bar:
        started = time.perf_counter()
        means, count = _tn_model_epoch(network, model, optimizer, xd, yd, config, generator)
        clock.add(started, count)
        finite(means[0], "the TN-model loss")
        for name, value in zip(losses, means):
            losses[name].append(value)
        bar.set_postfix(ce=f"{means[1]:.3f}", d=f"{means[2]:.3f}", acc=f"{means[3]:.3f}")
    bar.close()
    return network.eval(), losses, clock


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _tn_model_metrics(model: nn.Module, network: UNet, ex: torch.Tensor, ey: torch.Tensor, device: torch.device
                      ) -> dict[str, float]:
    exd, eyd = ex.to(device), ey.to(device)
    metrics = {"plain_accuracy": _accuracy(model, exd, eyd, None)[0]}
    metrics["protected_accuracy"], protected = _accuracy(model, exd, eyd, network)
    metrics["ssim_to_plain"] = float(ssim(protected, exd).mean()) if min(ex.shape[-2:]) >= 7 else float("nan")
    return metrics


def train_tn_model(
    images: torch.Tensor,
    labels: torch.Tensor,
    config: TNModelConfig = TNModelConfig(),
    *,
    classifier: Any = None,
    eval_images: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
    progress: bool = True,
    **overrides: Any,
) -> TransformTrainingResult:
    """Train a TN-model: a U-Net whose outputs a frozen plain-image classifier still classifies.

    Parameters
    ----------
    images, labels
        Plain training images ``uint8 (N, C, H, W)`` (sides multiples of ``2 ** depth``) and
        ``int64 (N,)`` class labels (photo crops: the source-photo index).
    config, overrides
        The settings (:class:`TNModelConfig`, where each is described), with any keyword
        ``overrides`` of its fields applied. The seed seeds the initialisation and the batches (the
        caller's RNG state is restored).
    classifier
        The classifier pre-trained on plain images (frozen here): ``None`` trains a
        :class:`~imgleak.nets.small_cnn.SmallClassifier` on ``images`` first; an ``nn.Module``
        taking [0, 1] images; or an :class:`imgleak.training.classifier.TrainingResult` (its normalisation
        is applied). A given classifier is moved to the device and frozen in place (eval mode,
        no gradients).
    eval_images, eval_labels
        Where the end metrics are measured (e.g. validation crops); default: the training images.
    progress
        A tqdm bar over epochs.

    Returns
    -------
    TransformTrainingResult
        ``key`` (a ``TransformNet`` named ``"tn_model"``), ``cipher`` (``TNModel()``);
        ``metrics``: ``plain_accuracy`` and ``protected_accuracy`` of the frozen classifier (on
        the 8-bit protected images), ``ssim_to_plain`` (mean SSIM, :func:`imgleak.metrics.ssim`,
        protected vs plain: low = unlike the input), ``classifier_train_accuracy`` when trained here.

    >>> x = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    >>> result = train_tn_model(x, torch.arange(8) % 2, epochs=1, classifier_epochs=1, depth=1, device="cpu",
    ...                         progress=False)
    >>> result.key.name, result.settings["unet"]
    ('tn_model', {'in_channels': 3, 'out_channels': 3, 'base': 16, 'depth': 1})
    """
    config = configured(config, TNModelConfig, overrides)
    x, y, ex, ey = _tn_model_data(images, labels, eval_images, eval_labels)
    given = None if classifier is None else classifier_module(classifier)
    config = config.for_data(x, y, given, "training images" if eval_images is None else "eval_images")
    return _run_tn_model(x, y, ex, ey, given, config, boolean(progress, "progress"))


def _run_tn_model(x: torch.Tensor, y: torch.Tensor, ex: torch.Tensor, ey: torch.Tensor, given: nn.Module | None,
                  config: TNModelConfig, progress: bool) -> TransformTrainingResult:
    start = time.perf_counter()
    device = torch.device(config.device)
    with seeded_training(config.seed, device, config.num_threads):
        generator = torch.Generator().manual_seed(config.seed + 1)
        xd, yd = x.to(device), y.to(device)
        metrics: dict[str, float] = {}
        if given is None:
            model = _plain_classifier(xd, yd, config, generator, progress)
            metrics["classifier_train_accuracy"] = _accuracy(model, xd, yd, None)[0]
        else:
            model = given.to(device)
        model = _frozen(model)
        network, losses, clock = _train_tn_model_network(model, xd, yd, config, generator, progress)
        metrics.update(_tn_model_metrics(model, network, ex, ey, device))
    return _result(network, TNModel(), asdict(config), start, losses=losses, metrics=metrics,
                   images_per_second=clock.images_per_second, n_train=int(x.shape[0]),
                   parameters=sum(p.numel() for p in network.parameters()), networks={"classifier": model})


# ------------------------------------------------------------------------------------ TN-GAN


@dataclass(frozen=True, kw_only=True)
class TNGANConfig(GANSettings):
    """The settings of :func:`train_tn_gan`, each with its default; ``asdict()`` of the run's filled
    copy (:meth:`for_data`) is the result's ``settings``.

    Chosen by the caller (and :class:`~imgleak.training.common.GANSettings`'s ``betas`` (``beta1``;
    Adam for all four networks, CycleGAN's :data:`PAPER_TN_GAN`), ``discriminator``
    (``disc_width``: first width of both discriminators), ``seed``, ``device``, ``num_threads``):

    * ``epochs``, ``batch_size``: an epoch is one pass over the plain-domain images (a trailing batch
      of one is dropped); protected batches cycle alongside;
    * ``lr``, ``cycle_weight``: Adam's learning rate; weight of the L1 cycle loss (CycleGAN's);
    * ``unet``: ``{"base": width, "depth": depth}`` of both generators (``base=``/``depth=`` alone
      set one of them).

    Filled by :meth:`for_data`: ``target`` (the target cipher's name, or ``"given target_images"``),
    ``n_plain``, ``n_protected``, ``unet`` and ``discriminator`` (with the images' shape),
    ``image_shape``.
    """

    target: str | None = field(default=None, init=False)
    n_plain: int | None = field(default=None, init=False)
    n_protected: int | None = field(default=None, init=False)
    epochs: int = 2
    batch_size: int = 16
    lr: float = PAPER_TN_GAN["lr"]
    cycle_weight: float = PAPER_TN_GAN["cycle_weight"]
    gan_loss: str = field(default="least squares (CycleGAN)", init=False)
    unet: dict[str, int] = field(default_factory=lambda: {"base": 16, "depth": 3})
    base: InitVar[int | None] = None
    depth: InitVar[int | None] = None
    image_shape: list[int] | None = field(default=None, init=False)

    def __post_init__(self, beta1: float | None, disc_width: int | None,  # type: ignore[override]
                      base: int | None, depth: int | None) -> None:
        super().__post_init__(beta1, disc_width)
        self._set("cycle_weight", number(self.cycle_weight, "cycle_weight"))
        self._set("unet", unet_settings(self.unet, base, depth))

    def for_data(self, x: torch.Tensor, domain_a: torch.Tensor, domain_b: torch.Tensor, target: str
                 ) -> TNGANConfig:
        """This config filled for the images ``x``, split into the plain and protected domains."""
        unet = unet_config(x, **self.unet)
        shape = list(x.shape[1:])
        if shape[-2] != shape[-1] or shape[-1] < 16:
            raise ValueError(f"images must be square with side >= 16 for the discriminators, got "
                             f"{shape[-2]}x{shape[-1]}")
        return filled(self, target=target, n_plain=int(domain_a.shape[0]), n_protected=int(domain_b.shape[0]),
                      unet=unet, discriminator=self.discriminator_for(shape), image_shape=shape)


def _target_domain(x: torch.Tensor, target_cipher: Any, key: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Split ``x`` at random (``seed``) into two disjoint halves; the second, encrypted, is the protected domain."""
    cipher = PixelwiseEncryption("different") if target_cipher is None else target_cipher
    if not isinstance(cipher, Cipher):
        raise TypeError(f"target_cipher must follow the imgleak Cipher interface (e.g. imgleak.ciphers.get(name)), "
                        f"got {type(cipher).__name__}")
    key = cipher.make_key(seed, tuple(x.shape[1:])) if key is None else key
    if x.shape[0] < 4:
        raise ValueError(f"images needs at least 4 images to be split into two domains, got {x.shape[0]}")
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed)).to(x.device)
    half = x.shape[0] // 2
    domain_b = cipher.encrypt(x[order[half:].sort().values], key)
    name = f"{cipher.name}" + (f"({cipher.mode})" if hasattr(cipher, "mode") else "")
    return x[order[:half].sort().values], domain_b, name


def _domains(x: torch.Tensor, target_images: Any, target_cipher: Any, key: Any, seed: int
             ) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The plain and protected domains, and the name of the protected one."""
    if target_images is None:
        return _target_domain(x, target_cipher, key, seed)
    if target_cipher is not None or key is not None:
        raise ValueError("target_cipher and key apply only when target_images is None")
    domain_b = image_set(target_images, "target_images")
    if domain_b.shape[1:] != x.shape[1:]:
        raise ValueError(f"target_images must be shaped (N, {', '.join(map(str, x.shape[1:]))}), "
                         f"got {tuple(domain_b.shape)}")
    return x, domain_b, "given target_images"


@dataclass
class _CycleGAN:
    """The four networks of a TN-GAN run and their two optimisers."""

    g_ab: UNet
    g_ba: UNet
    d_a: Discriminator
    d_b: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    @classmethod
    def build(cls, config: TNGANConfig, device: torch.device) -> "_CycleGAN":
        g_ab, g_ba = UNet(**config.unet).to(device), UNet(**config.unet).to(device)
        d_a, d_b = Discriminator(**config.discriminator).to(device), Discriminator(**config.discriminator).to(device)
        for net in (d_a, d_b):
            dcgan_init(net)
        betas = (config.betas[0], config.betas[1])
        opt_g = torch.optim.Adam(list(g_ab.parameters()) + list(g_ba.parameters()), lr=config.lr, betas=betas)
        opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=config.lr, betas=betas)
        return cls(g_ab, g_ba, d_a, d_b, opt_g, opt_d)

    def train(self) -> None:
        for net in (self.g_ab, self.g_ba, self.d_a, self.d_b):
            net.train()

    def step(self, a: torch.Tensor, b: torch.Tensor, cycle_weight: float) -> torch.Tensor:
        """One generator and one discriminator update; the detached (adversarial, cycle, discriminator) losses."""
        # generators: fool both discriminators (least squares), keep the cycles
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        pred_fb, pred_fa = self.d_b(fake_b), self.d_a(fake_a)
        adv = F.mse_loss(pred_fb, torch.ones_like(pred_fb)) + F.mse_loss(pred_fa, torch.ones_like(pred_fa))
        cycle = F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)
        loss_g = adv + cycle_weight * cycle
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # discriminators: real → 1, generated → 0
        loss_d = 0.0
        for disc, real, fake in ((self.d_a, a, fake_a), (self.d_b, b, fake_b)):
            pr, pf = disc(real), disc(fake.detach())
            loss_d = loss_d + 0.5 * (F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, torch.zeros_like(pf)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return torch.stack([adv.detach(), cycle.detach(), loss_d.detach()])


class _Alongside:
    """Batches of the protected domain drawn alongside the plain ones: a seeded order, reshuffled
    when the next batch would run past its end."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n, self.generator = n, generator
        self.order, self.pos = torch.randperm(n, generator=generator), 0

    def take(self, k: int) -> torch.Tensor:
        if self.pos + k > self.n:  # next pass over the protected domain
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        rows = self.order[self.pos:self.pos + min(k, self.n)]
        self.pos += rows.numel()
        return rows


def _tn_gan_epoch(nets: _CycleGAN, a_all: torch.Tensor, b_all: torch.Tensor, others: _Alongside,
                  config: TNGANConfig, generator: torch.Generator) -> tuple[list[float], int]:
    """One pass over the plain domain: the means of (adversarial, cycle, discriminator) losses and the image count."""
    nets.train()
    sums = torch.zeros(3, dtype=torch.float64, device=a_all.device)
    count = 0
    for rows in shuffled_batches(a_all.shape[0], config.batch_size, generator):
        k = rows.numel()
        b_rows = others.take(k)
        a = to_unit(a_all[rows.to(a_all.device)])
        b = to_unit(b_all[b_rows.to(a_all.device)])
        sums += nets.step(a, b, config.cycle_weight).double() * k
        count += k
    return [float(v) / count for v in sums.cpu()], count


def _train_cycle_gan(a_all: torch.Tensor, b_all: torch.Tensor, config: TNGANConfig, progress: bool
                     ) -> tuple[_CycleGAN, dict[str, list[float]], EpochClock]:
    nets = _CycleGAN.build(config, a_all.device)
    generator = torch.Generator().manual_seed(config.seed + 1)
    others = _Alongside(b_all.shape[0], generator)
    losses: dict[str, list[float]] = {"g_adv": [], "cycle": [], "d": []}
    clock = EpochClock()
    bar = tqdm(range(config.epochs), desc="TN-GAN", disable=not progress)
    for _ in bar:
        started = time.perf_counter()
        means, count = _tn_gan_epoch(nets, a_all, b_all, others, config, generator)
        clock.add(started, count)
        finite(sum(means), "the TN-GAN loss")
        for name, value in zip(losses, means):
            losses[name].append(value)
        bar.set_postfix(g=f"{means[0]:.3f}", cycle=f"{means[1]:.3f}", d=f"{means[2]:.3f}")
    bar.close()
    return nets, losses, clock


def train_tn_gan(
    images: torch.Tensor,
    target_images: torch.Tensor | None = None,
    config: TNGANConfig = TNGANConfig(),
    *,
    target_cipher: Any = None,
    key: Any = None,
    progress: bool = True,
    **overrides: Any,
) -> TransformTrainingResult:
    """Train a TN-GAN: an unpaired plain → protected translation (CycleGAN at small scale).

    Parameters
    ----------
    images
        Plain images ``uint8 (N, C, H, W)`` (square, sides multiples of ``2 ** depth``, at least 16).
    target_images
        Images of the protected domain (same ``C, H, W``), unpaired with ``images``. ``None``:
        ``images`` is split at random (the seed) into two disjoint halves; the first half is
        the plain domain, the second half encrypted with ``target_cipher`` is the protected one.
    config, overrides
        The settings (:class:`TNGANConfig`, where each is described), with any keyword
        ``overrides`` of its fields applied.
    target_cipher, key
        The conventional perceptual encryption (a cipher of :mod:`imgleak.ciphers`) that defines
        the protected domain (default: pixel-wise encryption with a different key per image — an
        assumption, see the module docstring) and its key (default
        ``target_cipher.make_key(seed, shape)``). Only with ``target_images=None``.
    progress
        A tqdm bar over epochs.

    Returns
    -------
    TransformTrainingResult
        ``key`` (a ``TransformNet`` named ``"tn_gan"``: the plain → protected generator),
        ``cipher`` (``TNGAN()``); ``metrics``: ``ssim_to_plain`` (protected vs plain, plain-domain
        images) and ``cycle_ssim`` (F(G(x)) vs x: how much of the image survives the transformation).

    >>> x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    >>> result = train_tn_gan(x, epochs=1, depth=2, disc_width=8, device="cpu", progress=False)
    >>> result.key.name, result.settings["n_plain"], result.settings["discriminator"]["width"]
    ('tn_gan', 2, 8)
    """
    config = configured(config, TNGANConfig, overrides)
    x = image_set(images, "images")
    domain_a, domain_b, target = _domains(x, target_images, target_cipher, key, config.seed)
    config = config.for_data(x, domain_a, domain_b, target)
    return _run_tn_gan(domain_a, domain_b, config, boolean(progress, "progress"))


def _run_tn_gan(domain_a: torch.Tensor, domain_b: torch.Tensor, config: TNGANConfig, progress: bool
                ) -> TransformTrainingResult:
    start = time.perf_counter()
    device = torch.device(config.device)
    with seeded_training(config.seed, device, config.num_threads):
        a_all, b_all = domain_a.to(device), domain_b.to(device)
        nets, losses, clock = _train_cycle_gan(a_all, b_all, config, progress)
        protected = run_network(nets.g_ab, a_all, 64)
        cycled = run_network(nets.g_ba, protected, 64)
        metrics = {"ssim_to_plain": float(ssim(protected, a_all).mean()),
                   "cycle_ssim": float(ssim(cycled, a_all).mean())}
    return _result(nets.g_ab, TNGAN(), asdict(config), start, losses=losses, metrics=metrics,
                   images_per_second=clock.images_per_second, n_train=int(domain_a.shape[0]),
                   parameters=sum(p.numel() for p in nets.g_ab.parameters()),
                   networks={"inverse_generator": nets.g_ba.eval(), "discriminator_plain": nets.d_a.eval(),
                             "discriminator_protected": nets.d_b.eval()})


# ------------------------------------------------------------------------------------ one entry point


@dataclass(frozen=True)
class KeyTraining:
    """How a learned scheme's key is trained: the function, whether it takes class labels (and images to
    check its classifier on), and the options that count epochs (what ``all_epochs`` sets)."""

    train: Any
    labelled: bool
    epoch_options: tuple[str, ...]


KEY_TRAINING: dict[str, KeyTraining] = {
    TNModel.name: KeyTraining(train_tn_model, True, ("epochs", "classifier_epochs")),
    TNGAN.name: KeyTraining(train_tn_gan, False, ("epochs",)),
}
"""The learned schemes (their ciphers declare ``learned_key``) by registered name, beside their trainers."""


def train_key(
    scheme: str,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eval_images: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
    all_epochs: int | None = None,
    **options: Any,
) -> TransformTrainingResult:
    """Train the key of the learned scheme registered as ``scheme`` on ``images``.

    ``labels`` (and ``eval_images`` / ``eval_labels``, to check the plain classifier) go to the schemes
    trained with class labels (TN-model) and are not used by the others (TN-GAN). ``all_epochs`` sets
    every epoch count of the scheme's training (TN-model: the U-Net's and the plain classifier's) that
    ``options`` does not give; ``options`` go to the scheme's training function
    (:func:`train_tn_model`, :func:`train_tn_gan`).

    >>> x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    >>> result = train_key("tn_gan", x, all_epochs=1, depth=2, progress=False)
    >>> result.key.name, result.settings["epochs"]
    ('tn_gan', 1)
    """
    how = KEY_TRAINING[choice(scheme, "scheme (a learned scheme's registered name)", tuple(KEY_TRAINING))]
    if all_epochs is not None:
        options = {**{name: all_epochs for name in how.epoch_options}, **options}
    if not how.labelled:
        return how.train(images, **options)
    if labels is None:
        raise ValueError(f"labels are needed to train a {scheme} key (its plain classifier learns them)")
    evaluation = {} if eval_images is None else {"eval_images": eval_images, "eval_labels": eval_labels}
    return how.train(images, labels, **evaluation, **options)


__all__ = [
    "DISSIMILARITIES", "KEY_TRAINING", "KeyTraining", "PAPER_TN_GAN", "TNGANConfig", "TNModelConfig", "TransformTrainingResult", "classifier_module",
    "train_key", "train_tn_gan", "train_tn_model", "unet_config", "unet_settings",
]
