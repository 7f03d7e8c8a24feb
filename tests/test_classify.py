"""Tests for imgleak.classify: models, RICAP, the stratified split and training on the digits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.classify import (
    MODEL_NAMES,
    SmallViT,
    TrainingResult,
    auto_patch_size,
    build_model,
    ricap,
    split,
    train_classifier,
)
from imgleak.images import LabelledImages, load_digits

TINY_VIT = {"dim": 32, "depth": 1, "heads": 2}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_split() -> tuple[LabelledImages, LabelledImages]:
    return split(load_digits(), test_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def small(digits_split) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """600 training and 200 test digits (8x8) as (images, labels) pairs."""
    train, test = digits_split
    return (train.images[:600], train.labels[:600]), (test.images[:200], test.labels[:200])


@pytest.fixture(scope="module")
def tiny(digits_split) -> tuple[LabelledImages, LabelledImages]:
    """200 training and 100 test digits as LabelledImages (for the fast checks)."""
    train, test = digits_split
    return (
        LabelledImages("tiny-train", train.images[:200], train.labels[:200], train.classes),
        LabelledImages("tiny-test", test.images[:100], test.labels[:100], test.classes),
    )


# ------------------------------------------------------------------------------------------ models


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


def test_vit_b_16_small_images() -> None:
    model = build_model("vit_b_16", 1, 10, 32).eval()
    assert model.conv_proj.in_channels == 1 and model.conv_proj.out_channels == 768
    assert model.patch_size == 4 and model.image_size == 32
    assert len(model.encoder.layers) == 12
    with torch.inference_mode():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_vit_b_16_pretrained_loads_and_adapts_weights(monkeypatch) -> None:
    from torchvision.models import ViT_B_16_Weights
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    reference = VisionTransformer(224, 16, 12, 12, 768, 3072)  # stands in for the ImageNet weights
    state = reference.state_dict()
    monkeypatch.setattr(ViT_B_16_Weights, "get_state_dict", lambda self, *args, **kwargs: state)
    model = build_model("vit_b_16", 1, 10, 32, pretrained=True)
    assert torch.equal(model.encoder.layers[5].mlp[0].weight, reference.encoder.layers[5].mlp[0].weight)
    assert model.encoder.pos_embedding.shape == (1, 8 * 8 + 1, 768)  # interpolated to the 8x8 grid
    assert model.heads.head.out_features == 10 and model.conv_proj.in_channels == 1


def test_vit_b_16_pretrained_offline_says_what_is_missing(monkeypatch) -> None:
    from urllib.error import URLError

    from torchvision.models import ViT_B_16_Weights

    def offline(self, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(ViT_B_16_Weights, "get_state_dict", offline)
    with pytest.raises(RuntimeError, match="vit_b_16-.*pth.*pretrained=False"):
        build_model("vit_b_16", 3, 10, 224, pretrained=True)


@pytest.mark.parametrize("size, patch", [(8, 2), (16, 2), (28, 4), (32, 4), (224, 28), (7, 1)])
def test_auto_patch_size(size: int, patch: int) -> None:
    assert auto_patch_size(size) == patch


def test_build_model_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="resnet18, vit, vit_b_16"):
        build_model("alexnet", 1, 10, 8)
    with pytest.raises(ValueError, match="in_channels"):
        build_model("resnet18", 0, 10, 8)
    with pytest.raises(ValueError, match="patch_size"):
        build_model("vit", 1, 10, 16, patch_size=3)
    with pytest.raises(ValueError, match="patch size"):
        auto_patch_size(29)
    with pytest.raises(TypeError, match="only to the small 'vit'"):
        build_model("resnet18", 1, 10, 8, dim=64)
    with pytest.raises(TypeError, match="unknown option"):
        build_model("vit", 1, 10, 8, width=64)
    with pytest.raises(ValueError, match="pretrained"):
        build_model("resnet18", 1, 10, 8, pretrained=True)


# ------------------------------------------------------------------------------------------ RICAP


def _coded_batch(n: int, height: int, width: int) -> torch.Tensor:
    """Every pixel value encodes (image, row, column): image * H * W + row * W + column."""
    return torch.arange(n * height * width, dtype=torch.int64).view(n, 1, height, width).repeat(1, 2, 1, 1)


@pytest.mark.parametrize("seed", range(6))
def test_ricap_output_is_four_translated_source_quadrants(seed: int) -> None:
    n, height, width = 8, 12, 10
    images = _coded_batch(n, height, width)
    labels = torch.arange(n)  # the label of an image is its index: targets name the source images
    mixed, targets, weights = ricap(images, labels, beta=0.3, generator=torch.Generator().manual_seed(seed))
    assert mixed.shape == images.shape and mixed.dtype == images.dtype
    assert targets.shape == (4, n) and weights.shape == (4,)
    assert torch.isclose(weights.sum(), torch.tensor(1.0))
    assert bool((weights >= 0).all())
    assert torch.equal(mixed[:, 0], mixed[:, 1])  # all channels cut alike
    # the boundary from the area weights: h/H = w0 + w1, w/W = w0 + w2
    h = round(height * float(weights[0] + weights[1]))
    w = round(width * float(weights[0] + weights[2]))
    regions = ((slice(0, h), slice(0, w)), (slice(0, h), slice(w, width)),
               (slice(h, height), slice(0, w)), (slice(h, height), slice(w, width)))
    rows = torch.arange(height)[:, None].expand(height, width)
    cols = torch.arange(width)[None, :].expand(height, width)
    source = mixed[:, 0] // (height * width)
    src_row = (mixed[:, 0] % (height * width)) // width
    src_col = mixed[:, 0] % width
    for k, (rs, cs) in enumerate(regions):
        area = (rs.stop - rs.start) * (cs.stop - cs.start)
        assert float(weights[k]) == pytest.approx(area / (height * width))
        if area == 0:
            continue
        assert bool((source[:, rs, cs] == targets[k][:, None, None]).all())
        for offsets in (src_row[:, rs, cs] - rows[rs, cs], src_col[:, rs, cs] - cols[rs, cs]):
            # one translation per image and quadrant: a contiguous crop of the source
            assert bool((offsets == offsets[:, :1, :1]).all())
        assert bool((src_row[:, rs, cs] >= 0).all()) and bool((src_row[:, rs, cs] < height).all())


def test_ricap_is_seeded_and_checks_input() -> None:
    images = torch.rand(6, 3, 8, 8)
    labels = torch.arange(6)
    first = ricap(images, labels, 0.3, torch.Generator().manual_seed(1))
    second = ricap(images, labels, 0.3, torch.Generator().manual_seed(1))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="beta"):
        ricap(images, labels, 0.0)
    with pytest.raises(ValueError, match="labels"):
        ricap(images, labels[:3], 0.3)
    with pytest.raises(ValueError, match="images"):
        ricap(images[0], labels, 0.3)


# ------------------------------------------------------------------------------------------ split


def test_split_is_stratified_and_deterministic() -> None:
    data = load_digits()
    train, test = split(data, test_fraction=0.25, seed=3)
    assert len(train) + len(test) == len(data)
    assert train.images.dtype == torch.uint8 and train.classes == data.classes
    counts = torch.bincount(data.labels)
    test_counts = torch.bincount(test.labels, minlength=10)
    expected = torch.floor(counts * 0.25 + 0.5)
    assert torch.equal(test_counts, expected.to(torch.int64))
    # every image lands in exactly one part (images + labels identify the rows)
    rows = lambda part: {(bytes(img.flatten().tolist()), int(lab)) for img, lab in zip(part.images, part.labels)}
    assert rows(train) | rows(test) == rows(data)
    again_train, again_test = split(data, test_fraction=0.25, seed=3)
    assert torch.equal(again_test.images, test.images) and torch.equal(again_train.labels, train.labels)
    other_train, other_test = split(data, test_fraction=0.25, seed=4)
    assert not torch.equal(other_test.images, test.images)
    assert torch.equal(torch.bincount(other_test.labels, minlength=10), test_counts)


def test_split_accepts_pairs_and_rejects_bad_fractions() -> None:
    images = torch.zeros(20, 1, 4, 4, dtype=torch.uint8)
    labels = torch.arange(20) % 2
    train, test = split((images, labels), test_fraction=0.5, seed=0)
    assert len(train) == len(test) == 10 and test.classes == ("0", "1")
    for bad in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="test_fraction"):
            split((images, labels), test_fraction=bad)
    with pytest.raises(ValueError, match="empty"):
        split((images[:2], labels[:2]), test_fraction=0.1)


# ------------------------------------------------------------------------------------------ training


def test_resnet18_learns_digits(small, device: torch.device) -> None:
    train, test = small
    result = train_classifier(train, test, "resnet18", epochs=3, batch_size=32, lr=0.05, seed=0,
                              device=device, progress=False)
    assert result.settings["device"] == str(device)
    assert result.best_test_accuracy > 0.5, result.test_accuracy
    assert result.train_loss[-1] < result.train_loss[0]


def test_small_vit_learns_digits(small) -> None:
    train, test = small
    result = train_classifier(train, test, "vit", epochs=4, batch_size=32, lr=0.05, warmup_epochs=1,
                              grad_clip=1.0, seed=0, device="cpu", progress=False)
    assert result.best_test_accuracy > 0.3, result.test_accuracy
    assert result.settings["warmup_steps"] == 19  # 600 / 32 -> 19 steps per epoch


def test_training_is_reproducible_and_leaves_global_rng_alone(tiny) -> None:
    train, test = tiny
    kwargs = dict(model="vit", epochs=2, batch_size=32, ricap=True, crop_padding=1, model_options=TINY_VIT,
                  device="cpu", progress=False)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = train_classifier(train, test, seed=7, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)
    second = train_classifier(train, test, seed=7, **kwargs)
    other = train_classifier(train, test, seed=8, **kwargs)
    for curve in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert getattr(first, curve) == getattr(second, curve)
    for a, b in zip(first.network.parameters(), second.network.parameters()):
        assert torch.equal(a, b)
    assert first.train_loss != other.train_loss
    assert first.settings["ricap"] and first.settings["ricap_beta"] == 0.3


def test_result_object_and_dataframe(tiny) -> None:
    train, test = tiny
    result = train_classifier(train, test, "vit", epochs=2, batch_size=64, model_options=TINY_VIT,
                              input_size=16, flip=True, seed=0, device="cpu", progress=True)
    assert isinstance(result, TrainingResult)
    assert result.model == "vit" and result.num_classes == 10
    assert result.n_train == 200 and result.n_test == 100 and result.parameters > 0
    for curve in (result.train_loss, result.train_accuracy, result.test_loss, result.test_accuracy):
        assert len(curve) == 2
    assert result.best_test_accuracy == max(result.test_accuracy)
    assert result.test_accuracy[result.best_epoch - 1] == result.best_test_accuracy
    assert result.final_test_accuracy == result.test_accuracy[-1]
    assert result.seconds > 0 and result.images_per_second > 0
    for key in ("model", "epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov", "ricap",
                "ricap_beta", "seed", "device", "mean", "std", "input_size", "lr_schedule", "optimizer"):
        assert key in result.settings
    assert result.settings["lr"] == 0.05 and result.settings["nesterov"] is True
    assert result.settings["input_size"] == [16, 16] and result.settings["image_shape"] == [1, 8, 8]
    assert result.network.patch_embed.stride == (2, 2)  # built for the resized 16x16 input
    frame = result.to_dataframe()
    assert list(frame.columns) == ["model", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    assert len(frame) == 2 and frame["epoch"].tolist() == [1, 2]
    assert "network" not in result.to_dict()
    assert result.evaluate(test) == pytest.approx(result.final_test_accuracy)
    assert result.evaluate((test.images, test.labels), batch_size=7) == pytest.approx(result.final_test_accuracy)


def test_train_accepts_a_module(tiny) -> None:
    train, test = tiny
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    result = train_classifier((train.images, train.labels), (test.images, test.labels), net, epochs=2,
                              batch_size=50, seed=0, device="cpu", progress=False)
    assert result.model == "Sequential" and result.network is net
    assert result.best_test_accuracy > 0.3


def test_num_threads_is_restored(tiny) -> None:
    train, test = tiny
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    torch.set_num_threads(2)
    try:
        result = train_classifier(train, test, net, epochs=1, num_threads=1, device="cpu", progress=False)
        assert result.settings["num_threads"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    with pytest.raises(ValueError, match="num_threads"):
        train_classifier(train, test, net, epochs=1, num_threads=0, device="cpu", progress=False)


def test_training_rejects_bad_inputs(tiny) -> None:
    train, test = tiny
    images, labels = train.images, train.labels
    fast = dict(epochs=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="train images .*uint8"):
        train_classifier((images.float(), labels), test, **fast)
    with pytest.raises(ValueError, match=r"train images must be shaped \(N, C, H, W\)"):
        train_classifier((images[:, 0], labels), test, **fast)
    with pytest.raises(TypeError, match="test labels .*int64"):
        train_classifier(train, (test.images, test.labels.int()), **fast)
    with pytest.raises(ValueError, match="train labels must be shaped"):
        train_classifier((images, labels[:-1]), test, **fast)
    with pytest.raises(ValueError, match="share"):
        train_classifier(train, (test.images[:, :, :4], test.labels), **fast)
    with pytest.raises(TypeError, match="LabelledImages"):
        train_classifier(images, test, **fast)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="epochs"):
            train_classifier(train, test, epochs=bad, device="cpu", progress=False)
        with pytest.raises(ValueError, match="batch_size"):
            train_classifier(train, test, batch_size=bad, **fast)
    with pytest.raises(ValueError, match="resnet18, vit, vit_b_16"):
        train_classifier(train, test, "vgg", **fast)
    with pytest.raises(ValueError, match="lr"):
        train_classifier(train, test, lr=0.0, **fast)
    with pytest.raises(ValueError, match="num_classes"):
        train_classifier(train, test, num_classes=3, **fast)
    with pytest.raises(ValueError, match="ricap_beta"):
        train_classifier(train, test, ricap=True, ricap_beta=-1, **fast)
    with pytest.raises(ValueError, match="resize_mode"):
        train_classifier(train, test, input_size=16, resize_mode="lanczos", **fast)
    with pytest.raises(ValueError, match="device"):
        train_classifier(train, test, device="tpu", epochs=1, progress=False)


def test_model_names_constant() -> None:
    assert MODEL_NAMES == ("resnet18", "vit", "vit_b_16")
