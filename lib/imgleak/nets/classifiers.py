"""Image classifiers by name: ``"resnet18"`` (:func:`~imgleak.nets.resnet.resnet18_classifier`),
``"vit"`` (:class:`~imgleak.nets.vit.SmallViT`) and ``"vit_b_16"``
(:func:`~imgleak.nets.vit.vit_b_16_classifier`), freshly initialised from torch's global RNG.

>>> import torch
>>> _ = torch.manual_seed(0)
>>> build_model("vit", 3, 5, 16, dim=16, depth=1, heads=2)(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 5])
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .._checks import boolean, optional_positive_int, positive_int, size_pair
from .resnet import resnet18_classifier
from .vit import SmallViT, auto_patch_size, vit_b_16_classifier

MODEL_NAMES: tuple[str, ...] = ("resnet18", "vit", "vit_b_16")
"""The names :func:`build_model` (and ``imgleak.training.classifier.train_classifier``) accept."""

VIT_OPTIONS: tuple[str, ...] = ("dim", "depth", "heads", "mlp_dim", "dropout")
"""The keyword options of the small ``"vit"`` (:class:`~imgleak.nets.vit.SmallViT`)."""


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
    """A freshly initialised classifier by name.

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
        :func:`~imgleak.nets.vit.auto_patch_size`; 16 for ``vit_b_16`` on images of 64 pixels and more).
    pretrained
        ``vit_b_16`` only: start from torchvision's ImageNet weights (must be cached locally).
    small_stem
        ``resnet18`` only: the 3×3 stride-1 stem without max-pool (default, for small images);
        ``False`` keeps torchvision's 7×7 stride-2 stem and max-pool.
    vit_options
        ``dim``, ``depth``, ``heads``, ``mlp_dim``, ``dropout`` of the small ``"vit"``.

    The weights are drawn from the global torch RNG: seed it for reproducible models.
    """
    if not isinstance(name, str) or name not in MODEL_NAMES:
        raise ValueError(f"model name must be one of {', '.join(MODEL_NAMES)}; got {name!r}")
    in_channels, num_classes = positive_int(in_channels, "in_channels"), positive_int(num_classes, "num_classes")
    patch_size = optional_positive_int(patch_size, "patch_size")
    size_pair(image_size, "image_size")
    pretrained, small_stem = boolean(pretrained, "pretrained"), boolean(small_stem, "small_stem")
    if vit_options and name != "vit":
        raise TypeError(f"options {sorted(vit_options)} apply only to the small 'vit', not {name!r}")
    if not small_stem and name != "resnet18":
        raise ValueError(f"small_stem applies only to 'resnet18', not {name!r}")
    if pretrained and name != "vit_b_16":
        raise ValueError(f"pretrained=True is offered only for 'vit_b_16', not {name!r}")
    if name == "resnet18":
        return resnet18_classifier(in_channels, num_classes, small_stem)
    if name == "vit":
        unknown = set(vit_options) - set(VIT_OPTIONS)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)} for 'vit'; choose from {sorted(VIT_OPTIONS)}")
        patch = auto_patch_size(image_size) if patch_size is None else patch_size
        return SmallViT(in_channels, num_classes, image_size, patch, **vit_options)
    return vit_b_16_classifier(in_channels, num_classes, image_size, patch_size, pretrained)


__all__ = ["MODEL_NAMES", "VIT_OPTIONS", "build_model"]
