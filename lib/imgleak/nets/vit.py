"""Vision Transformers for classification: a small ViT for CPU runs and torchvision's ViT-B/16
rebuilt for any square image size and channel count.

>>> import torch
>>> net = SmallViT(1, 10, 8, auto_patch_size(8), dim=16, depth=1, heads=2)
>>> net(torch.rand(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import number, optional_positive_int, positive_int, size_pair
from .weights import torchvision_weights

MAX_PATCHES_PER_SIDE = 8
"""The most patches per side :func:`auto_patch_size` leaves (a short token sequence for a CPU)."""


class SmallViT(nn.Module):
    """A compact Vision Transformer (ViT, Dosovitskiy et al. 2021) for small images on a CPU.

    Patch embedding ``Conv2d(in_channels, dim, patch_size, stride=patch_size)`` → tokens, a
    learnable class token and positional embedding (truncated normal, std 0.02), ``depth``
    pre-norm ``nn.TransformerEncoderLayer`` (``heads`` heads, MLP ``mlp_dim`` — ``2 * dim`` when
    ``None`` —, GELU, dropout ``dropout``), a final ``LayerNorm`` and ``Linear(dim, num_classes)``
    on the class token. ``image_size`` is an int (square) or ``(height, width)``; both sides must
    be multiples of ``patch_size``. The defaults (dim 96, depth 4, 4 heads) hold about 0.3 M
    parameters.
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
        height, width = size_pair(image_size, "image_size")
        in_channels, num_classes = positive_int(in_channels, "in_channels"), positive_int(num_classes, "num_classes")
        patch_size, dim = positive_int(patch_size, "patch_size"), positive_int(dim, "dim")
        depth, heads = positive_int(depth, "depth"), positive_int(heads, "heads")
        mlp_dim, dropout = optional_positive_int(mlp_dim, "mlp_dim"), number(dropout, "dropout")
        if height % patch_size or width % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide the image size {height}x{width}")
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


def auto_patch_size(image_size: int | tuple[int, int], max_per_side: int = MAX_PATCHES_PER_SIDE) -> int:
    """A ViT patch size for small images: the smallest common divisor ``p >= 2`` of the sides
    that leaves 2 to ``max_per_side`` patches per side.

    8 → 2 (4×4 patches), 16 → 2 (8×8), 28 → 4 (7×7), 32 → 4 (8×8), 224 → 28 (8×8). Images of at
    most ``max_per_side`` pixels without such a divisor use pixel patches (``p = 1``); other
    awkward sizes (primes above 8) raise ``ValueError``: pass ``patch_size`` or resize the input.

    >>> auto_patch_size(28), auto_patch_size((16, 32)), auto_patch_size(7)
    (4, 4, 1)
    """
    height, width = size_pair(image_size, "image_size")
    max_per_side = positive_int(max_per_side, "max_per_side")
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


def vit_b_16_classifier(
    in_channels: int,
    num_classes: int,
    image_size: int | tuple[int, int],
    patch_size: int | None = None,
    pretrained: bool = False,
) -> nn.Module:
    """torchvision's ViT-B (12 layers, 12 heads, width 768, MLP 3072, about 85 M parameters) for
    square ``image_size`` images with a fresh patch embedding ``Conv2d(in_channels, 768, p,
    stride p)`` (the RVT paper replaces it the same way).

    ``patch_size=None`` picks 16 when the side is a multiple of 16 with at least 4 patches per
    side (64, 128, 224, …), else :func:`auto_patch_size` (4 for 28 and 32). ``pretrained=True``
    loads torchvision's ImageNet weights from the torch hub cache (nothing is downloaded offline:
    a :class:`~imgleak.nets.weights.WeightsUnavailableError` says which file to put where),
    interpolating the positional embeddings to
    the new grid; the 1000-way head is kept only when ``num_classes == 1000``.
    """
    from torchvision.models.vision_transformer import VisionTransformer

    size = _square_side(image_size)
    in_channels, num_classes = positive_int(in_channels, "in_channels"), positive_int(num_classes, "num_classes")
    patch_size = optional_positive_int(patch_size, "patch_size")
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
        _load_imagenet_weights(model, size, patch_size, keep_head=head_classes == 1000)
    # A fresh patch embedding for the input channels (the paper: Conv(in_ch, 768, 16, stride 16)).
    conv = nn.Conv2d(in_channels, 768, kernel_size=patch_size, stride=patch_size)
    fan_in = in_channels * patch_size * patch_size
    nn.init.trunc_normal_(conv.weight, std=math.sqrt(1 / fan_in))  # torchvision's own init
    nn.init.zeros_(conv.bias)
    model.conv_proj = conv
    return model


def _square_side(image_size: int | tuple[int, int]) -> int:
    if isinstance(image_size, (tuple, list)) and (len(image_size) != 2 or image_size[0] != image_size[1]):
        raise ValueError(f"vit_b_16 needs square images; got image_size {image_size!r}")
    return size_pair(image_size, "image_size")[0]


def _load_imagenet_weights(model: nn.Module, size: int, patch_size: int, keep_head: bool) -> None:
    """Load torchvision's ImageNet ViT-B/16 weights (patch embedding left out) into ``model``."""
    from torchvision.models import ViT_B_16_Weights
    from torchvision.models.vision_transformer import interpolate_embeddings

    weights = ViT_B_16_Weights.IMAGENET1K_V1
    state, _ = torchvision_weights(
        weights, "pretrained ViT-B/16 weights (torchvision IMAGENET1K_V1)",
        "python -c \"import torchvision; torchvision.models.vit_b_16(weights='IMAGENET1K_V1')\"",
        "or use pretrained=False")
    state = {k: v for k, v in state.items() if not k.startswith("conv_proj.")}
    if patch_size != 16 or size != 224:
        state = interpolate_embeddings(size, patch_size, state)
    if not keep_head:
        state = {k: v for k, v in state.items() if not k.startswith("heads.")}
    loaded = model.load_state_dict(state, strict=False)
    fresh = [k for k in loaded.missing_keys if not k.startswith(("conv_proj.", "heads."))]
    if fresh or loaded.unexpected_keys:
        raise RuntimeError(f"the ViT-B/16 weights do not fit: missing {fresh}, unexpected {loaded.unexpected_keys}")


__all__ = ["MAX_PATCHES_PER_SIDE", "SmallViT", "auto_patch_size", "vit_b_16_classifier"]
