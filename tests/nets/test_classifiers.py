"""Tests for imgleak.nets.classifiers: the classifiers by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.nets import weights
from imgleak.nets.weights import WeightsUnavailableError
from imgleak.nets.classifiers import MODEL_NAMES, VIT_OPTIONS, build_model
from imgleak.nets.vit import SmallViT


@pytest.mark.parametrize("name", ["resnet18", "vit"])
@pytest.mark.parametrize("channels, size", [(1, 8), (3, 16), (1, 28)])
def test_build_model_output_shape(name: str, channels: int, size: int) -> None:
    model = build_model(name, channels, 7, size).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, 7)


def test_resnet18_has_small_input_stem() -> None:
    model = build_model("resnet18", 1, 10, 28)
    assert model.conv1.in_channels == 1
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1) and model.conv1.padding == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert model.fc.out_features == 10
    imagenet_stem = build_model("resnet18", 3, 10, 64, small_stem=False)
    assert imagenet_stem.conv1.kernel_size == (7, 7) and imagenet_stem.conv1.stride == (2, 2)
    assert isinstance(imagenet_stem.maxpool, nn.MaxPool2d)
    assert imagenet_stem(torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_small_vit_structure() -> None:
    model = build_model("vit", 3, 10, 32)
    assert isinstance(model, SmallViT)
    assert model.patch_size == 4  # 8x8 patches
    assert model.pos_embed.shape == (1, 8 * 8 + 1, 96)
    assert model.patch_embed.in_channels == 3
    assert len(model.encoder.layers) == 4
    custom = build_model("vit", 1, 5, (8, 16), patch_size=4, dim=64, depth=2, heads=4)
    assert custom.pos_embed.shape == (1, 2 * 4 + 1, 64)
    assert custom(torch.randn(3, 1, 8, 16)).shape == (3, 5)


def test_build_model_draws_from_the_global_rng() -> None:
    torch.manual_seed(3)
    first = build_model("vit", 1, 4, 8, dim=16, depth=1, heads=2)
    torch.manual_seed(3)
    second = build_model("vit", 1, 4, 8, dim=16, depth=1, heads=2)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_vit_b_16_small_images() -> None:
    model = build_model("vit_b_16", 1, 10, 32).eval()
    assert model.conv_proj.in_channels == 1 and model.conv_proj.out_channels == 768
    assert model.patch_size == 4 and model.image_size == 32
    assert len(model.encoder.layers) == 12
    with torch.inference_mode():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_vit_b_16_pretrained_download_failure_says_what_is_missing(monkeypatch, tmp_path) -> None:
    from urllib.error import URLError

    from torchvision.models import ViT_B_16_Weights

    def offline(self, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(ViT_B_16_Weights, "get_state_dict", offline)
    monkeypatch.setattr(weights, "offline", lambda: False)  # online, but the download fails
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    torch.hub.set_dir(str(tmp_path))  # nothing cached
    with pytest.raises(WeightsUnavailableError, match="vit_b_16-.*pth.*pretrained=False"):
        build_model("vit_b_16", 3, 10, 224, pretrained=True)


def test_build_model_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="resnet18, vit, vit_b_16"):
        build_model("alexnet", 1, 10, 8)
    with pytest.raises(ValueError, match="in_channels"):
        build_model("resnet18", 0, 10, 8)
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 1.5"):
        build_model("resnet18", 1, 1.5, 8)
    with pytest.raises(ValueError, match="patch_size"):
        build_model("vit", 1, 10, 16, patch_size=3)
    with pytest.raises(ValueError, match="patch_size must be a positive int, got 0"):
        build_model("vit", 1, 10, 16, patch_size=0)
    with pytest.raises(ValueError, match=r"image_size must be a positive int or \(height, width\)"):
        build_model("resnet18", 1, 10, (8, 0))
    with pytest.raises(TypeError, match="only to the small 'vit'"):
        build_model("resnet18", 1, 10, 8, dim=64)
    with pytest.raises(TypeError, match="unknown option"):
        build_model("vit", 1, 10, 8, width=64)
    with pytest.raises(ValueError, match="pretrained"):
        build_model("resnet18", 1, 10, 8, pretrained=True)
    with pytest.raises(ValueError, match="small_stem applies only to 'resnet18'"):
        build_model("vit", 1, 10, 8, small_stem=False)
    with pytest.raises(TypeError, match="small_stem must be True or False, got 'no'"):
        build_model("resnet18", 1, 10, 8, small_stem="no")


def test_names_constants() -> None:
    assert MODEL_NAMES == ("resnet18", "vit", "vit_b_16")
    assert VIT_OPTIONS == ("dim", "depth", "heads", "mlp_dim", "dropout")
