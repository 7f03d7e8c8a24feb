"""Tests for imgleak.training.classifier: the config, RICAP, the stratified split and training on the digits."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from imgleak.images import LabelledImages, load_digits
from imgleak.results import Result
from imgleak.training.classifier import (
    DEFAULT_LR,
    ClassifierConfig,
    TrainingResult,
    ricap,
    split,
    _train_test,
    train_classifier,
)

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


# ------------------------------------------------------------------------------------------ config

SETTINGS_KEYS = [
    "model", "model_options", "epochs", "batch_size", "effective_batch_size", "steps_per_epoch", "optimizer",
    "lr", "lr_schedule", "warmup_epochs", "warmup_steps", "grad_clip", "momentum", "weight_decay", "nesterov",
    "ricap", "ricap_beta", "crop_padding", "flip", "input_size", "resize_mode", "image_shape", "num_classes",
    "mean", "std", "eval_batch_size", "seed", "device", "num_threads", "n_train", "n_test",
]


def _config(model: str | nn.Module = "vit", n_train: int = 600, classes_needed: int = 10,
            **changes) -> ClassifierConfig:
    """A config as a run on ``n_train`` 8x8 digits (and 200 test ones) fills it."""
    settings = dict(epochs=3, batch_size=32, seed=0, device="cpu", num_threads=1, num_classes=10)
    config = ClassifierConfig(**{**settings, **changes})
    images = torch.zeros(n_train + 200, 1, 8, 8, dtype=torch.uint8)
    labels = torch.zeros(n_train + 200, dtype=torch.int64)
    data = _train_test((images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:]))
    return config.for_data(model, data, classes_needed)


@pytest.mark.parametrize("n_train, batch_size, effective, steps", [
    (600, 32, 32, 19),  # a last batch of 24 is kept
    (129, 128, 128, 1),  # a last batch of one image is dropped
    (100, 128, 100, 1),  # the batch is capped at the training set
    (40, 16, 16, 3),  # 8 = half a batch: kept
    (33, 16, 16, 2),  # 1 < a quarter of a batch: dropped
])
def test_config_derives_the_steps(n_train: int, batch_size: int, effective: int, steps: int) -> None:
    config = _config(n_train=n_train, batch_size=batch_size)
    assert (config.effective_batch_size, config.steps_per_epoch) == (effective, steps)


def test_config_learning_rate_schedule_closed_form() -> None:
    cosine = _config(epochs=2).lr_factor()  # 38 steps, no warm-up
    assert cosine(0) == 1.0 and cosine(38) == 0.0
    assert cosine(19) == pytest.approx(0.5, abs=1e-15)
    assert cosine(10) == 0.5 * (1 + math.cos(math.pi * 10 / 38))
    warm = _config(warmup_epochs=1.0)  # 19 warm-up steps of 57
    factor = warm.lr_factor()
    assert warm.warmup_steps == 19
    assert [factor(k) for k in (0, 9, 18)] == [1 / 20, 10 / 20, 19 / 20]
    assert factor(19) == 1.0 and factor(57) == 0.0
    assert _config(warmup_epochs=10.0).warmup_steps == 3 * 19 - 1  # at least one cosine step is left


def test_config_resolves_defaults_and_is_frozen() -> None:
    config = _config(model_options={"dim": 16}, input_size=(16, 12))
    assert config.lr == DEFAULT_LR["vit"] and _config(model="vit_b_16").lr == DEFAULT_LR["vit_b_16"]
    assert _config(model=nn.Sequential()).lr == 0.05
    assert config.ricap_beta is None and _config(ricap=True).ricap_beta == 0.3
    assert config.input_size == [16, 12] and config.model_options == {"dim": 16}
    assert config.optimizer == "SGD" and config.mean is None
    assert _config(num_threads=None).num_threads == torch.get_num_threads()  # the caller's count on a CPU
    assert sorted(dataclasses.asdict(config)) == sorted(SETTINGS_KEYS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]


def test_config_draws_a_seed_once() -> None:
    config = _config(seed=None)
    assert isinstance(config.seed, int) and 0 <= config.seed < 2**63
    measured = config.with_statistics(torch.tensor([0.25]), torch.tensor([0.5]))
    assert measured.seed == config.seed
    assert (measured.mean, measured.std) == ([0.25], [0.5])
    assert dataclasses.asdict(measured) == {**dataclasses.asdict(config), "mean": [0.25], "std": [0.5]}


@pytest.mark.parametrize("changes, error, message", [
    ({"momentum": 0.0}, ValueError, "nesterov=True needs momentum > 0"),
    ({"flip": "yes"}, TypeError, "flip must be True or False"),
    ({"ricap": 1}, TypeError, "ricap must be True or False"),
    ({"ricap": True, "ricap_beta": 0}, ValueError, "ricap_beta must be a positive"),
    ({"crop_padding": -1}, ValueError, "crop_padding must be a non-negative int"),
    ({"grad_clip": 0.0}, ValueError, "grad_clip must be a positive"),
    ({"warmup_epochs": float("nan")}, ValueError, "warmup_epochs"),
    ({"model_options": ["dim"]}, TypeError, "model_options must be a dict or None"),
    ({"input_size": (8, 0)}, ValueError, "input_size must be a positive int"),
    ({"resize_mode": "lanczos"}, ValueError, "resize_mode must be one of 'nearest'"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"num_threads": 0}, ValueError, "num_threads must be a positive int"),
    ({"device": "tpu"}, ValueError, "device must be"),
    ({"classes_needed": 11}, ValueError, "num_classes=10 but the labels need at least 11 classes"),
    ({"eval_batch_size": 0}, ValueError, "eval_batch_size"),
])
def test_config_names_the_bad_setting(changes: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _config(**changes)


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
    assert isinstance(result, TrainingResult) and isinstance(result, Result)
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
    record = result.to_dict()
    assert "network" not in record and json.loads(json.dumps(record)) == record  # plain values only
    assert sorted(result.settings) == sorted(SETTINGS_KEYS)
    assert result.settings["mean"] == pytest.approx([float(train.images.double().mean() / 255)], rel=1e-6)
    assert result.settings["steps_per_epoch"] == 3  # 200 / 64: the last 8 images (< 64 / 4) wait for a reshuffle
    # the record holds the run's config: its settings build the same config again
    init = {f.name: result.settings[f.name] for f in dataclasses.fields(ClassifierConfig) if f.init}
    assert {k: v for k, v in dataclasses.asdict(ClassifierConfig(**init)).items() if k in init} == init
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
    default = train_classifier(train, test, net, epochs=1, device="cpu", progress=False)
    assert default.settings["num_threads"] == torch.get_num_threads() == 1  # the module's one thread


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
    with pytest.raises(TypeError, match="flip must be True or False"):
        train_classifier(train, test, flip="no", **fast)
    with pytest.raises(TypeError, match="progress must be True or False"):
        train_classifier(train, test, epochs=1, device="cpu", progress="no")
    with pytest.raises(TypeError, match="model must be a name"):
        train_classifier(train, test, model=3, **fast)
    with pytest.raises(ValueError, match="train needs at least 2 images"):
        train_classifier((images[:1], labels[:1]), test, **fast)
