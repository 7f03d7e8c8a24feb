"""The one weights policy (nets/weights.py): caches first, nothing downloaded offline, and an error that
names the missing file, every place looked in and how to provide it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import ResNet18_Weights, ViT_B_16_Weights

from imgleak.nets import weights
from imgleak.nets.classifiers import build_model
from imgleak.nets.weights import WeightsUnavailableError, hf_hub_cache, offline, torch_hub_file, torchvision_weights


@pytest.fixture
def empty_torch_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """torch hub's folder in an empty ``tmp_path``, offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # restored after the test
    torch.hub.set_dir(str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_offline_without_a_cached_file_names_the_file_where_it_looked_and_how_to_provide_it(empty_torch_hub):
    def no_download(*args, **kwargs):
        raise AssertionError("offline: nothing may be downloaded")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ResNet18_Weights, "get_state_dict", no_download)
        with pytest.raises(WeightsUnavailableError) as err:
            torchvision_weights(ResNet18_Weights.IMAGENET1K_V1, "weights for 'r'", "fetch-it", "or go without")
    expected = empty_torch_hub / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(err.value) == (
        f"weights for 'r' are not available: not cached and HF_HUB_OFFLINE is set. Looked for: {expected}. "
        f"To provide them: run once with internet: fetch-it (it stores resnet18-f37072fd.pth there; set TORCH_HOME "
        f"to choose the folder), or copy resnet18-f37072fd.pth into {expected.parent}; or go without.")


def test_a_cached_file_is_read_offline(empty_torch_hub):
    state = {"w": torch.arange(3.0)}
    path = torch_hub_file(ResNet18_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    got, where = torchvision_weights(ResNet18_Weights.IMAGENET1K_V1, "w", "c", "a")
    assert where == path and list(got) == ["w"] and torch.equal(got["w"], state["w"])


def test_vit_b_16_follows_the_policy_offline(empty_torch_hub):
    with pytest.raises(WeightsUnavailableError, match=r"ViT-B/16.*HF_HUB_OFFLINE.*vit_b_16-c867db91\.pth.*"
                                                      r"pretrained=False"):
        build_model("vit_b_16", 3, 10, 224, pretrained=True)


def test_vit_b_16_reads_its_weights_from_the_torch_hub_cache(empty_torch_hub):
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    reference = VisionTransformer(224, 16, 12, 12, 768, 3072)  # stands in for the ImageNet weights
    path = torch_hub_file(ViT_B_16_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = build_model("vit_b_16", 1, 10, 32, pretrained=True)
    assert torch.equal(model.encoder.layers[5].mlp[0].weight, reference.encoder.layers[5].mlp[0].weight)
    assert model.encoder.pos_embedding.shape == (1, 8 * 8 + 1, 768)  # interpolated to the 8x8 grid
    assert model.heads.head.out_features == 10 and model.conv_proj.in_channels == 1


def test_offline_flags_and_the_hub_cache_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(weights.constants, "HF_HUB_OFFLINE", False)
    for value, expected in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        assert offline() is expected, value
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert hf_hub_cache() == tmp_path / "hub"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hf_hub_cache() == tmp_path / "hf" / "hub"
