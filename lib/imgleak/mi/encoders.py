"""Frozen image encoders (CLIP ViT-B-32, ResNet-50, ResNet-18): one embedding per image or patch.

The seed paper embeds 224x224 patches (no resizing) with a frozen CLIP ViT-B and an ImageNet
ResNet, then runs MINE on pairs of embeddings; for its cosine-similarity experiment it resizes
whole images to 224x224. :func:`load_encoder` returns an :class:`Encoder` whose
:meth:`Encoder.embed` takes ``uint8`` images and returns ``float32`` embeddings:

* ``clip-vit-b-32`` (512-d): open_clip's image embedding (``encode_image``: projected, not
  L2-normalised); 224x224 inputs only, or ``resize=True``.
* ``resnet50`` (2048-d) / ``resnet18`` (512-d): torchvision ResNet, the global-average-pooled
  penultimate features (``fc`` replaced by ``Identity``); any input size of at least 32x32.

Preprocessing: pixels / 255, a grey channel repeated to RGB, then the model's normalisation
(CLIP: open_clip's ``OPENAI_DATASET_MEAN``/``STD``; ResNet: the ImageNet mean/std). Nothing is
resized unless ``resize=True`` (bicubic, antialiased, to 224x224 - aspect ratio not kept).

Weights, and where they are looked for (every location is read when ``load_encoder`` is called,
so environment changes made after import are honoured):

* ``clip-vit-b-32``: the OpenAI weights of open_clip's ``ViT-B-32`` tag ``openai``, i.e. the
  Hugging Face repo ``timm/vit_base_patch32_clip_224.openai`` (``open_clip_model.safetensors``,
  else ``open_clip_pytorch_model.bin``) in the Hugging Face hub cache (``$HF_HUB_CACHE``, else
  ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
  ``~/.cache/huggingface/hub``), found with ``huggingface_hub.try_to_load_from_cache``; or
  OpenAI's TorchScript ``ViT-B-32.pt`` in open_clip's URL cache ``~/.cache/clip`` (used when
  ``huggingface_hub`` is missing). The model is built with QuickGELU, the activation these
  weights were trained with (``create_model('ViT-B-32', pretrained='openai')`` alone builds GELU
  and warns of the mismatch in open_clip 3.x).
* ``resnet50`` / ``resnet18``: torchvision's ``ResNet50_Weights.IMAGENET1K_V2`` /
  ``ResNet18_Weights.IMAGENET1K_V1`` file (``resnet50-11ad3fa6.pth`` / ``resnet18-f37072fd.pth``)
  in ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub``, else
  ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``, or what ``torch.hub.set_dir`` set).
* ``weights=PATH``: a local file instead (an open_clip / OpenAI checkpoint of ViT-B-32 with the
  OpenAI architecture, or a torchvision ResNet ``state_dict``, with or without the ``fc`` keys).

When the weights are not cached, they are downloaded the usual way (open_clip / torchvision,
into those same caches) unless ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set - the
project's "no downloads" switch, honoured for the torchvision weights too - in which case
:class:`WeightsUnavailableError` is raised at once, saying which file to fetch and where to put
it. A failed download raises the same error; for CLIP a DNS lookup of the hub's host is tried
first, so a machine without any network fails at once instead of waiting through
huggingface_hub's retries. ``pretrained=False`` is the explicit fallback: the
encoder is randomly initialised with a fixed seed (reproducible, the caller's random state is
left untouched), ``encoder.pretrained`` is ``False`` and ``encoder.description`` says
"(random init, NOT pretrained)" so figures can say so in their titles.

:func:`cosine_similarity` (row-wise) and :func:`rounded_features` (the "naive rounding" of CLIP
features into integer codes for the plug-in MI) are the two small helpers the paper's Fig. 3 needs.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import _checks
from ..nets.weights import (WeightsUnavailableError, find_in_hf_cache, hf_host, hf_hub_cache, missing_message, offline,
                            read_state_dict, resolves, torch_hub_file, torchvision_weights)
from ..tensors import as_image_batch, resolve_device, restore_rank

__all__ = [
    "ENCODERS",
    "RANDOM_INIT_SEED",
    "Encoder",
    "WeightsUnavailableError",
    "cosine_similarity",
    "load_encoder",
    "rounded_features",
]

ENCODERS = ("clip-vit-b-32", "resnet50", "resnet18")
RANDOM_INIT_SEED = 0  # seed of every pretrained=False encoder

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_ARCH = "ViT-B-32"
CLIP_TAG = "openai"
CLIP_SIZE = 224
CLIP_HF_REPO = "timm/vit_base_patch32_clip_224.openai"  # fallback if open_clip's table changes
CLIP_HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
RESNET_MIN_SIZE = 32

# name -> (torchvision builder, weights enum, weights tag, embedding dim, display name)
_RESNETS = {
    "resnet50": ("resnet50", "ResNet50_Weights", "IMAGENET1K_V2", 2048, "ResNet-50"),
    "resnet18": ("resnet18", "ResNet18_Weights", "IMAGENET1K_V1", 512, "ResNet-18"),
}


@dataclass(eq=False)
class Encoder:
    """A frozen image encoder: ``embed(images)`` gives one ``dim``-vector per image.

    Attributes: ``name`` (one of :data:`ENCODERS`), ``dim``, ``pretrained`` (False for a
    random-init encoder), ``description`` (for figure titles), ``device`` (where the model
    runs), ``model`` (the frozen ``nn.Module``, eval mode, no gradients), ``mean``/``std`` (the
    normalisation), ``input_size`` (the only accepted side length, or None for any size of at
    least ``min_size``), ``weights_path`` (the weights file loaded, if any).
    """

    name: str
    dim: int
    pretrained: bool
    description: str
    device: torch.device
    model: nn.Module = field(repr=False)
    mean: tuple[float, float, float] = field(repr=False)
    std: tuple[float, float, float] = field(repr=False)
    input_size: int | None = None
    min_size: int = 1
    weights_path: str | None = None

    def embed(
        self,
        images: torch.Tensor,
        batch_size: int = 32,
        progress: bool = False,
        resize: bool = False,
    ) -> torch.Tensor:
        """Embeddings of ``uint8`` images ``(N, C, H, W)`` → ``float32`` ``(N, dim)``.

        A single image ``(C, H, W)`` gives ``(dim,)``. ``C`` is 1 (repeated to RGB) or 3.
        The model runs on :attr:`device` in batches of ``batch_size`` under
        ``torch.inference_mode``; the result is an ordinary tensor (usable in autograd, e.g.
        as MINE's input) on the device the images came in on. ``resize=True`` resizes every
        image bicubically (antialiased) to 224x224 first, as the paper does for whole images;
        otherwise CLIP needs 224x224 inputs and the ResNets take any size of at least 32x32.
        Convolutions run in full float32 on CUDA too (cuDNN's default TF32 is switched off here),
        so an image's embedding does not depend on the batch it came in.

        >>> encoder = load_encoder("resnet18", pretrained=False, device="cpu")
        >>> grey = torch.arange(2 * 32 * 32).reshape(2, 1, 32, 32).remainder(256).to(torch.uint8)
        >>> encoder.embed(grey).shape, encoder.embed(grey[0]).shape
        (torch.Size([2, 512]), torch.Size([512]))
        >>> torch.equal(encoder.embed(grey), encoder.embed(grey.repeat(1, 3, 1, 1)))  # grey = RGB repeated
        True
        """
        batch, single = as_image_batch(images, "images")
        batch_size = _checks.positive_int(batch_size, "batch_size")
        progress, resize = _checks.boolean(progress, "progress"), _checks.boolean(resize, "resize")
        channels, height, width = batch.shape[1:]
        if channels not in (1, 3):
            raise ValueError(
                f"images must have 1 (grey) or 3 (RGB) channels for {self.name}, got {channels} "
                f"(shape {tuple(images.shape)})"
            )
        target = (CLIP_SIZE, CLIP_SIZE) if resize else None
        if not resize:
            if self.input_size is not None and (height, width) != (self.input_size, self.input_size):
                raise ValueError(
                    f"{self.name} takes {self.input_size}x{self.input_size} images (ViT-B-32's positional "
                    f"embeddings are for a 7x7 grid of 32-pixel patches), got {height}x{width}; cut "
                    f"{self.input_size}x{self.input_size} patches, or pass resize=True to resize bicubically "
                    f"to {self.input_size}x{self.input_size}"
                )
            if min(height, width) < self.min_size:
                raise ValueError(
                    f"{self.name} needs images of at least {self.min_size}x{self.min_size}, got "
                    f"{height}x{width}; pass resize=True to resize to 224x224"
                )
        out_device = batch.device
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        n = batch.shape[0]
        outputs = []
        bar = tqdm(total=n, desc=f"embed ({self.name})", unit="img", disable=not progress, leave=False)
        with torch.inference_mode(), _ieee_convolutions():
            for start in range(0, n, batch_size):
                x = batch[start:start + batch_size].to(self.device, non_blocking=True)
                x = x.to(torch.float32).div_(255.0)
                if channels == 1:
                    x = x.expand(-1, 3, -1, -1)
                if target is not None and (height, width) != target:
                    x = F.interpolate(x, size=target, mode="bicubic", align_corners=False, antialias=True)
                    x = x.clamp_(0.0, 1.0)
                x = (x - mean) / std
                outputs.append(self.model(x).to(torch.float32).to(out_device))
                bar.update(x.shape[0])
        bar.close()
        # cat outside inference mode: the result is a normal tensor, not an inference tensor
        emb = torch.cat(outputs) if outputs else torch.empty(0, self.dim, device=out_device)
        return restore_rank(emb, single)


def _ieee_convolutions():
    """cuDNN convolutions in full float32 (no TF32, which CUDA uses by default), so an image's
    embedding does not depend on the batch it came in; no effect on the CPU."""
    cudnn = torch.backends.cudnn
    return cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, benchmark_limit=cudnn.benchmark_limit,
                       deterministic=cudnn.deterministic, allow_tf32=False)


def load_encoder(
    name: str,
    pretrained: bool = True,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
) -> Encoder:
    """A frozen encoder ``name`` (one of :data:`ENCODERS`) on ``device`` (``"auto"``: CUDA if present).

    ``pretrained=True`` (default): the standard pretrained weights from the caches listed in the
    module docstring (downloaded there when missing, unless ``HF_HUB_OFFLINE`` is set), or the
    local file ``weights``; raises :class:`WeightsUnavailableError` when they cannot be had and
    ``FileNotFoundError`` for a missing ``weights`` file. ``pretrained=False``: random init with
    :data:`RANDOM_INIT_SEED` (identical weights at every call).

    >>> encoder = load_encoder("resnet18", pretrained=False, device="cpu")  # no download
    >>> encoder.dim, encoder.min_size, encoder.description
    (512, 32, 'ResNet-18 (random init, NOT pretrained)')
    >>> encoder.model.training, any(p.requires_grad for p in encoder.model.parameters())  # frozen
    (False, False)
    """
    if not isinstance(name, str) or name.strip().lower() not in ENCODERS:
        raise ValueError(f"encoder name must be one of {', '.join(map(repr, ENCODERS))}, got {name!r}")
    name = name.strip().lower()
    pretrained = _checks.boolean(pretrained, "pretrained")
    path = None
    if weights is not None:
        if not pretrained:
            raise ValueError("weights= loads pretrained weights: do not combine it with pretrained=False")
        if not isinstance(weights, (str, os.PathLike)):
            raise TypeError(f"weights must be a path to a local weights file, got {type(weights).__name__}")
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file for {name} not found: {path}")
    dev = resolve_device(device)
    if name == "clip-vit-b-32":
        encoder = _load_clip(pretrained, path)
    else:
        encoder = _load_resnet(name, pretrained, path)
    encoder.model.eval().requires_grad_(False).to(dev)
    encoder.device = dev
    return encoder


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine similarity of two embedding batches ``(N, D)`` → ``(N,)`` (or ``(D,)`` → scalar).

    >>> a = torch.tensor([[1.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    >>> cosine_similarity(a, torch.tensor([[0.0, 2.0], [-6.0, -8.0], [3.0, 4.0]])).tolist()
    [0.0, -1.0, 1.0]
    """
    for arg, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or not t.dtype.is_floating_point:
            raise TypeError(f"{arg} must be a floating-point torch.Tensor, got {getattr(t, 'dtype', type(t).__name__)}")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return F.cosine_similarity(a, b, dim=-1, eps=_checks.number(eps, "eps"))


def rounded_features(emb: torch.Tensor, decimals: int) -> torch.Tensor:
    """Features rounded to ``decimals`` decimals, as non-negative ``int64`` codes of the same shape.

    ``code = round(emb * 10**decimals) - min`` over the whole tensor: one shift for all
    dimensions, so equal rounded values get equal codes in every dimension and pooling the
    dimensions (pairs ``(f_d(X), f_d(E))`` over ``d`` and images) is a bijection of the rounded
    values - the plug-in MI of :mod:`imgleak.mi.histogram` is the MI of the rounded features.
    Coding X and E separately is fine (MI ignores a bijection of each variable). The number of
    bins grows as ``10**decimals`` times the value range: 1-2 decimals suit CLIP features.

    >>> rounded_features(torch.tensor([[0.12, -0.21], [0.33, 0.04]]), decimals=1).tolist()  # [[1, -2], [3, 0]] + 2
    [[3, 0], [5, 2]]
    """
    if not isinstance(emb, torch.Tensor) or not emb.dtype.is_floating_point:
        raise TypeError(f"emb must be a floating-point torch.Tensor, got {getattr(emb, 'dtype', type(emb).__name__)}")
    decimals = _checks.integer(decimals, "decimals")
    if emb.numel() == 0:
        raise ValueError("emb is empty")
    if not torch.isfinite(emb).all():
        raise ValueError("emb holds NaN or infinite values")
    scaled = torch.round(emb.to(torch.float64) * 10.0 ** min(decimals, 308))
    if not bool(scaled.abs().max() < 2.0**62):  # inf too (10**308 is the largest power of ten a float holds)
        raise ValueError(f"decimals={decimals} gives codes beyond int64 for these features (largest "
                         f"|value| {float(emb.abs().max()):.3g}); use fewer decimals")
    codes = scaled.to(torch.int64)
    return codes - codes.min()


# ----------------------------------------------------------------------------------- helpers


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with the CPU generator seeded by :data:`RANDOM_INIT_SEED`, the caller's RNG state restored."""
    with torch.random.fork_rng(devices=[]):  # models are built on the CPU: only its RNG is used
        torch.random.default_generator.manual_seed(RANDOM_INIT_SEED)
        return build()


def _clip_hf_repo() -> tuple[str, tuple[str, ...]]:
    """(repo id, candidate file names) of the ViT-B-32 ``openai`` weights on the Hugging Face hub."""
    import open_clip

    hub = open_clip.get_pretrained_cfg(CLIP_ARCH, CLIP_TAG).get("hf_hub", "") or CLIP_HF_REPO + "/"
    repo, filename = os.path.split(hub)
    return repo, ((filename,) if filename else CLIP_HF_FILES)


def _find_clip_in_cache() -> Path | None:
    """The cached OpenAI ViT-B-32 weights file, or None (never touches the network)."""
    hit = find_in_hf_cache(*_clip_hf_repo())
    legacy = Path(os.path.expanduser("~/.cache/clip")) / f"{CLIP_ARCH}.pt"  # open_clip's URL download cache
    return hit if hit is not None else legacy if legacy.is_file() else None


def _clip_missing_message(reason: str) -> str:
    repo, filenames = _clip_hf_repo()
    return missing_message(
        f"pretrained weights for 'clip-vit-b-32' (open_clip {CLIP_ARCH}, tag '{CLIP_TAG}')", reason,
        [f"the Hugging Face hub cache {hf_hub_cache()} (repo {repo}, file {' or '.join(filenames)})",
         f"~/.cache/clip/{CLIP_ARCH}.pt"],
        f"run once with internet: python -c \"import open_clip; open_clip.create_model('{CLIP_ARCH}', "
        f"pretrained='{CLIP_TAG}', force_quick_gelu=True)\" (it fills that cache; copy the cache folder to an "
        f"offline machine), or pass weights='/path/to/{filenames[0]}'; or ask for pretrained=False explicitly to "
        f"get a random-init encoder")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in archive.namelist())


def _clip_from_file(path: Path) -> nn.Module:
    import open_clip

    try:
        if _is_torchscript(path):  # OpenAI's original ViT-B-32.pt
            model = _seeded(lambda: open_clip.load_openai_model(str(path), precision="fp32", device="cpu"))
            patch = getattr(getattr(model.visual, "conv1", None), "kernel_size", None)
            if patch != (32, 32) or int(model.visual.output_dim) != 512:
                raise RuntimeError(f"it holds another CLIP architecture (patch size {patch})")
        else:
            model = _seeded(lambda: open_clip.create_model(
                CLIP_ARCH, pretrained=str(path), force_quick_gelu=True, device="cpu"))
    except Exception as err:  # open_clip raises RuntimeError/KeyError/... for a wrong file
        raise ValueError(f"weights file {path} is not a CLIP {CLIP_ARCH} checkpoint: {err}") from err
    return model


def _load_clip(pretrained: bool, path: Path | None) -> Encoder:
    import open_clip

    if not pretrained:
        model = _seeded(lambda: open_clip.create_model(CLIP_ARCH, pretrained=None, force_quick_gelu=True))
        description = f"CLIP {CLIP_ARCH} (random init, NOT pretrained)"
    elif path is not None:
        model = _clip_from_file(path)
        description = f"CLIP {CLIP_ARCH} (weights: {path.name})"
    else:
        path = _find_clip_in_cache()
        if path is not None:
            model = _clip_from_file(path)
        elif offline():
            raise WeightsUnavailableError(_clip_missing_message("not in the caches and HF_HUB_OFFLINE is set"))
        elif (host := hf_host()) and not resolves(host):  # spares huggingface_hub's retries
            raise WeightsUnavailableError(
                _clip_missing_message(f"not in the caches and the Hugging Face hub ({host}) cannot be reached")
            )
        else:
            try:
                model = _seeded(lambda: open_clip.create_model(
                    CLIP_ARCH, pretrained=CLIP_TAG, force_quick_gelu=True, cache_dir=str(hf_hub_cache())))
            except Exception as err:
                raise WeightsUnavailableError(_clip_missing_message(f"the download failed ({err})")) from err
            path = _find_clip_in_cache()
        description = f"CLIP {CLIP_ARCH} (OpenAI weights)"
    visual = model.visual  # only the image tower is kept; the text tower is dropped with `model`
    return Encoder(
        name="clip-vit-b-32", dim=int(visual.output_dim), pretrained=pretrained, description=description,
        device=torch.device("cpu"), model=visual, mean=tuple(open_clip.OPENAI_DATASET_MEAN),
        std=tuple(open_clip.OPENAI_DATASET_STD), input_size=CLIP_SIZE, min_size=CLIP_SIZE,
        weights_path=str(path) if path is not None else None,
    )


def _load_resnet(name: str, pretrained: bool, path: Path | None) -> Encoder:
    import torchvision

    builder_name, enum_name, tag, dim, display = _RESNETS[name]
    builder = getattr(torchvision.models, builder_name)
    weights_enum = getattr(torchvision.models, enum_name)[tag]
    model = _seeded(lambda: builder(weights=None))
    if not pretrained:
        description = f"{display} (random init, NOT pretrained)"
    else:
        if path is not None:
            state, source = read_state_dict(path), path.name
        else:
            state, path = torchvision_weights(
                weights_enum, f"pretrained ImageNet weights for '{name}' (torchvision {enum_name}.{tag})",
                f"python -c \"import torchvision; torchvision.models.{builder_name}(weights='{tag}')\"",
                f"or pass weights='/path/to/{torch_hub_file(weights_enum.url).name}'; or ask for pretrained=False "
                "explicitly to get a random-init encoder", progress=True)
            source = f"ImageNet {tag}"
        has_fc = any(k.startswith("fc.") for k in state)
        if not has_fc:
            model.fc = nn.Identity()
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(f"weights file {path} is not a torchvision {name} state_dict: {err}") from err
        description = f"{display} ({source})" if source.startswith("ImageNet") else f"{display} (weights: {source})"
    model.fc = nn.Identity()
    return Encoder(
        name=name, dim=dim, pretrained=pretrained, description=description, device=torch.device("cpu"),
        model=model, mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=None, min_size=RESNET_MIN_SIZE,
        weights_path=str(path) if path is not None else None,
    )
