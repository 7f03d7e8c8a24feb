"""Tests for imgleak.nets.vit: the small ViT, its patch-size rule and the ViT-B/16 builder."""

from __future__ import annotations

import pytest
import torch

from imgleak.nets.vit import SmallViT, auto_patch_size, vit_b_16_classifier


@pytest.mark.parametrize("size, patch", [(8, 2), (16, 2), (28, 4), (32, 4), (224, 28), (7, 1), ((16, 32), 4)])
def test_auto_patch_size(size, patch: int) -> None:
    assert auto_patch_size(size) == patch


def test_auto_patch_size_rejects_awkward_sizes() -> None:
    with pytest.raises(ValueError, match="patch size"):
        auto_patch_size(29)
    with pytest.raises(ValueError, match="image_size"):
        auto_patch_size(0)
    with pytest.raises(ValueError, match="max_per_side"):
        auto_patch_size(8, max_per_side=0)


def test_small_vit_token_count_and_mlp_default() -> None:
    model = SmallViT(3, 4, (8, 12), 4, dim=16, depth=2, heads=2)
    assert model.pos_embed.shape == (1, 2 * 3 + 1, 16)  # 2x3 patches and the class token
    assert model.encoder.layers[0].linear1.out_features == 32  # mlp_dim defaults to 2 * dim
    assert model(torch.rand(5, 3, 8, 12)).shape == (5, 4)


def test_small_vit_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="patch_size must be a positive int, got 0"):
        SmallViT(1, 10, 8, 0)
    with pytest.raises(ValueError, match="patch_size 3 must divide the image size 8x8"):
        SmallViT(1, 10, 8, 3)
    with pytest.raises(ValueError, match="in_channels"):
        SmallViT(0, 10, 8, 2)
    with pytest.raises(ValueError, match=r"dim \(10\) must be a multiple of heads \(4\)"):
        SmallViT(1, 10, 8, 2, dim=10, heads=4)
    with pytest.raises(ValueError, match="dropout"):
        SmallViT(1, 10, 8, 2, dropout=-0.1)


def test_vit_b_16_classifier_patch_rule_and_square_images() -> None:
    assert vit_b_16_classifier(3, 10, 64).patch_size == 16  # 4 patches per side: the paper's 16
    assert vit_b_16_classifier(1, 10, (28, 28)).patch_size == 4
    with pytest.raises(ValueError, match="square"):
        vit_b_16_classifier(1, 10, (28, 32))
    with pytest.raises(ValueError, match="patch_size 5 must divide image_size 32"):
        vit_b_16_classifier(1, 10, 32, patch_size=5)
