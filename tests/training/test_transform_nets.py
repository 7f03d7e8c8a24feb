"""TN-model and TN-GAN training: short reproducible runs, the result (key + cipher), the frozen
config that is the settings record, and named errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from imgleak.attacks.datasets import photo_crops
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.ciphers.transform_net import TNGAN, TNModel, TransformNet
from imgleak.keys import Key
from imgleak.nets.small_cnn import Normalised, SmallClassifier
from imgleak.training.run_settings import setting_names
from imgleak.training.transform_nets import (
    TNGANConfig,
    TNModelConfig,
    TransformTrainingResult,
    classifier_module,
    train_tn_gan,
    train_tn_model,
    unet_config,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    """24 training crops (16 x 16) labelled by source photo, 8 validation crops, 6 test crops."""
    return photo_crops(24, 6, 16, seed=2, n_val=8)


@pytest.fixture(scope="module")
def tn_model(tiny) -> TransformTrainingResult:
    return train_tn_model(tiny.train, tiny.train_labels, epochs=2, classifier_epochs=1, batch_size=8, base=4,
                          depth=2, eval_images=tiny.val, eval_labels=tiny.val_labels, device="cpu", progress=False,
                          seed=1)


# ------------------------------------------------------------------------------ TN-model


def test_tn_model_result_holds_the_key_and_its_cipher(tn_model, tiny):
    assert isinstance(tn_model.key, TransformNet) and tn_model.key.name == "tn_model"
    assert tn_model.cipher == TNModel()
    y = tn_model.cipher.encrypt(tiny.test, tn_model.key)
    assert (y.shape, y.dtype) == (tiny.test.shape, torch.uint8)
    assert tn_model.key.settings == tn_model.settings
    assert set(tn_model.losses) == {"total", "cross_entropy", "dissimilarity", "accuracy"}
    assert all(len(v) == 2 and all(math.isfinite(x) for x in v) for v in tn_model.losses.values())
    # the total is the cross-entropy minus lambda times the dissimilarity, epoch by epoch
    for total, ce, d in zip(tn_model.losses["total"], tn_model.losses["cross_entropy"],
                            tn_model.losses["dissimilarity"]):
        assert total == pytest.approx(ce - 5.0 * d, abs=1e-5)
    assert list(tn_model.metrics) == ["classifier_train_accuracy", "plain_accuracy", "protected_accuracy",
                                      "ssim_to_plain"]
    assert tn_model.images_per_second > 0 and tn_model.n_train == 24
    assert tn_model.parameters == sum(p.numel() for p in tn_model.key.network.parameters())
    assert set(tn_model.state_dict) == set(tn_model.key.network.state_dict())
    assert isinstance(tn_model.networks["classifier"], SmallClassifier)


def test_tn_model_to_dict_is_the_numbers_without_networks(tn_model):
    record = tn_model.to_dict()
    assert list(record) == ["name", "losses", "metrics", "seconds", "images_per_second", "n_train", "parameters",
                            "settings"]
    assert record["name"] == "tn_model" and record["settings"] == tn_model.settings
    record["losses"]["total"].append(0.0)  # a copy
    assert len(tn_model.losses["total"]) == 2


def test_tn_model_settings_are_the_frozen_config(tn_model, tiny):
    settings = tn_model.settings
    assert settings == {
        "lam": 5.0, "dissimilarity": "mse", "epochs": 2, "batch_size": 8, "lr": 1e-3, "optimizer": "Adam(0.9, 0.999)",
        "unet": {"in_channels": 3, "out_channels": 3, "base": 4, "depth": 2}, "num_classes": settings["num_classes"],
        "classifier": "SmallClassifier trained here", "classifier_epochs": 1, "classifier_lr": 1e-3,
        "classifier_width": 32, "image_shape": [3, 16, 16], "evaluated_on": "eval_images", "seed": 1,
        "device": "cpu", "num_threads": None,
    }
    config = TNModelConfig(**{k: v for k, v in settings.items() if k in setting_names(TNModelConfig)})
    assert (config.unet, config.classifier, config.image_shape) == ({"base": 4, "depth": 2}, None, None)
    assert dataclasses.asdict(config.for_data(tiny.train, tiny.train_labels, None, "eval_images")) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lam = 1.0  # type: ignore[misc]


def test_tn_model_is_reproducible(tn_model, tiny):
    again = train_tn_model(tiny.train, tiny.train_labels, epochs=2, classifier_epochs=1, batch_size=8, base=4,
                           depth=2, eval_images=tiny.val, eval_labels=tiny.val_labels, device="cpu", progress=False,
                           seed=1, num_threads=1)
    assert again.losses == tn_model.losses and again.metrics == tn_model.metrics
    assert torch.equal(TNModel().encrypt(tiny.test, again.key), TNModel().encrypt(tiny.test, tn_model.key))


def test_tn_model_with_a_given_classifier_and_ssim_term(device, tiny):
    torch.manual_seed(0)
    classifier = SmallClassifier(3, len(tiny.classes), width=4)
    result = train_tn_model(tiny.train.to(device), tiny.train_labels.to(device), classifier=classifier,
                            dissimilarity="ssim", lam=1.0, epochs=1, batch_size=8, base=4, depth=2, device=device,
                            progress=False)
    assert result.networks["classifier"] is classifier
    assert all(not p.requires_grad for p in classifier.parameters())  # frozen
    assert "classifier_train_accuracy" not in result.metrics
    assert result.settings["classifier"] == "SmallClassifier" and result.settings["classifier_epochs"] is None
    y = result.cipher.encrypt(tiny.test.to(device), result.key)
    assert (y.shape, y.dtype, y.device) == (tiny.test.shape, torch.uint8, tiny.test.to(device).device)


def test_classifier_module_normalises_a_training_result():
    network = nn.Conv2d(3, 2, 1)

    class Trained:  # what imgleak.training.classifier.TrainingResult offers
        settings = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.5], "input_size": None}

    Trained.network = network
    wrapped = classifier_module(Trained())
    x = torch.rand(2, 3, 4, 4)
    mean, std = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1), torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1)
    assert isinstance(wrapped, Normalised) and torch.equal(wrapped(x), network((x - mean) / std))
    Trained.settings = {**Trained.settings, "input_size": 32}
    with pytest.raises(ValueError, match="input_size"):
        classifier_module(Trained())
    assert classifier_module(network) is network


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"labels": torch.zeros(24, dtype=torch.int32)}, TypeError, "labels"),
        ({"labels": torch.zeros(23, dtype=torch.int64)}, ValueError, "labels"),
        ({"labels": torch.full((24,), -1)}, ValueError, "labels must be class indices"),
        ({"images": torch.zeros(24, 3, 16, 16)}, TypeError, "images"),
        ({"images": torch.zeros(3, 16, 16, dtype=torch.uint8)}, ValueError, "a single image"),
        ({"dissimilarity": "l1"}, ValueError, "dissimilarity"),
        ({"lam": -1}, ValueError, "lam"),
        ({"lam": float("nan")}, ValueError, "lam"),
        ({"depth": 5}, ValueError, "multiples of 32"),
        ({"base": 0}, ValueError, "base"),
        ({"num_classes": 1}, ValueError, "num_classes"),
        ({"classifier": "resnet"}, TypeError, "classifier"),
        ({"classifier_width": 0}, ValueError, "classifier_width"),
        ({"eval_images": torch.zeros(2, 3, 16, 16, dtype=torch.uint8)}, ValueError, "both"),
        ({"eval_images": torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "eval_labels": torch.zeros(2, dtype=torch.int64)},
         ValueError, "eval_images must be shaped"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"lr": 0}, ValueError, "lr"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"num_threads": 0}, ValueError, "num_threads"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"progress": "no"}, TypeError, "progress"),
    ],
)
def test_tn_model_bad_inputs(tiny, kwargs, error, match):
    args = {"images": tiny.train, "labels": tiny.train_labels, "progress": False, "epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        train_tn_model(**args)


def test_ssim_term_needs_7_pixels():
    images = torch.zeros(4, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="7x7"):
        train_tn_model(images, torch.tensor([0, 1, 0, 1]), dissimilarity="ssim", depth=1, progress=False)


def test_unet_config_names_the_multiple():
    x = torch.zeros(1, 2, 24, 24, dtype=torch.uint8)
    assert unet_config(x, 4, 3) == {"in_channels": 2, "out_channels": 2, "base": 4, "depth": 3}
    with pytest.raises(ValueError, match="multiples of 16"):
        unet_config(x, 4, 4)


# ------------------------------------------------------------------------------ TN-GAN


def test_tn_gan_short_run_is_reproducible(tiny, device):
    runs = [train_tn_gan(tiny.train.to(device), epochs=1, batch_size=4, base=4, depth=2, disc_width=8, seed=5,
                         device=device, progress=False, num_threads=1) for _ in range(2)]
    result = runs[0]
    assert result.key.name == "tn_gan" and result.cipher == TNGAN()
    assert result.settings["target"] == "pixelwise(different)"
    assert result.settings["n_plain"] == 12 and result.settings["n_protected"] == 12
    assert all(len(v) == 1 and math.isfinite(v[0]) for v in result.losses.values())
    assert list(result.metrics) == ["ssim_to_plain", "cycle_ssim"]
    assert set(result.networks) == {"inverse_generator", "discriminator_plain", "discriminator_protected"}
    y = result.cipher.encrypt(tiny.test.to(device), result.key)
    assert (y.shape, y.dtype) == (tiny.test.shape, torch.uint8)
    if torch.device(device).type == "cpu":
        assert runs[0].losses == runs[1].losses
        assert torch.equal(y, runs[1].cipher.encrypt(tiny.test, runs[1].key))


def test_tn_gan_settings_are_the_frozen_config(tiny):
    result = train_tn_gan(tiny.train, epochs=1, batch_size=8, base=2, depth=1, disc_width=4, device="cpu",
                          progress=False, seed=3)
    settings = result.settings
    assert settings["betas"] == [0.5, 0.999] and settings["gan_loss"] == "least squares (CycleGAN)"
    assert settings["discriminator"] == {"channels": 3, "image_size": 16, "width": 4, "max_downsamplings": 4}
    assert settings["unet"] == result.key.config and settings["seed"] == 3
    config = TNGANConfig(**{k: v for k, v in settings.items() if k in setting_names(TNGANConfig)})
    assert config.unet == {"base": 2, "depth": 1} and config.target is None  # the record replays
    again = train_tn_gan(tiny.train, config=config, progress=False)
    assert again.settings == settings and again.losses == result.losses


def test_tn_gan_target_domain_is_the_given_cipher_and_key(tiny):
    key = Key.from_seed(9)
    a = train_tn_gan(tiny.train, target_cipher=PixelwiseEncryption("same"), key=key, epochs=1, batch_size=8, base=2,
                     depth=1, disc_width=4, device="cpu", progress=False)
    assert a.settings["target"] == "pixelwise(same)"
    default_key = train_tn_gan(tiny.train, epochs=1, batch_size=8, base=2, depth=1, disc_width=4, device="cpu",
                               progress=False, seed=0, key=Key.from_seed(0))
    made = train_tn_gan(tiny.train, epochs=1, batch_size=8, base=2, depth=1, disc_width=4, device="cpu",
                        progress=False, seed=0)
    assert default_key.losses == made.losses  # the default key is the cipher's make_key(seed)


def test_tn_gan_with_given_targets_and_errors(tiny):
    targets = 255 - tiny.test.repeat(2, 1, 1, 1)
    result = train_tn_gan(tiny.train[:8], targets, epochs=1, batch_size=4, base=4, depth=2, disc_width=8,
                          device="cpu", progress=False)
    assert result.settings["target"] == "given target_images" and result.settings["n_protected"] == 12
    with pytest.raises(ValueError, match="target_cipher and key"):
        train_tn_gan(tiny.train, targets, target_cipher=object(), progress=False)
    with pytest.raises(TypeError, match="target_cipher must follow the imgleak Cipher interface"):
        train_tn_gan(tiny.train, target_cipher=object(), progress=False)
    with pytest.raises(TypeError, match="key must be"):
        train_tn_gan(tiny.train, key="abc", progress=False)
    with pytest.raises(ValueError, match="target_images must be shaped"):
        train_tn_gan(tiny.train, targets[:, :1], progress=False)
    with pytest.raises(ValueError, match="side >= 16"):
        train_tn_gan(torch.zeros(8, 3, 8, 8, dtype=torch.uint8), depth=2, progress=False)
    with pytest.raises(ValueError, match="square"):
        train_tn_gan(torch.zeros(8, 3, 16, 32, dtype=torch.uint8), depth=2, progress=False)
    with pytest.raises(ValueError, match="at least 4 images"):
        train_tn_gan(tiny.train[:3], progress=False)
    with pytest.raises(ValueError, match="beta1"):
        train_tn_gan(tiny.train, beta1=1.5, progress=False)
    with pytest.raises(ValueError, match="cycle_weight"):
        train_tn_gan(tiny.train, cycle_weight=-1, progress=False)
    with pytest.raises(ValueError, match="disc_width"):
        train_tn_gan(tiny.train, disc_width=0, progress=False)


def test_training_leaves_the_global_rng_and_threads_alone(tiny):
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    train_tn_model(tiny.train, tiny.train_labels, epochs=1, classifier_epochs=1, batch_size=8, base=2, depth=1,
                   device="cpu", progress=False, num_threads=2)
    train_tn_gan(tiny.train, epochs=1, batch_size=8, base=2, depth=1, disc_width=4, device="cpu", progress=False,
                 num_threads=2)
    assert torch.equal(torch.random.get_rng_state(), state) and torch.get_num_threads() == threads
