"""TN-model and TN-GAN: building blocks, short reproducible training, the keyless cipher, weights I/O."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from imgleak.attacks.datasets import photo_crops
from imgleak.ciphers.transform_nets import (
    Discriminator,
    SmallClassifier,
    TransformNet,
    TransformTrainingResult,
    UNet,
    soft_ssim,
    train_tn_gan,
    train_tn_model,
)
from imgleak.metrics import ssim


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


# ------------------------------------------------------------------------------ building blocks


@pytest.mark.parametrize("size", [16, 32])
def test_unet_shapes_range_and_device(device, size):
    torch.manual_seed(0)
    net = UNet(3, 3, base=4, depth=3).to(device)
    x = torch.rand(2, 3, size, size, device=device)
    with torch.no_grad():
        y = net(x)
    assert (y.shape, y.device) == (x.shape, x.device) and 0 <= float(y.min()) and float(y.max()) <= 1
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 12, 12, device=device))
    with pytest.raises(ValueError, match="channels"):
        net(torch.rand(1, 1, 16, 16, device=device))


@pytest.mark.parametrize("size, patches", [(16, 1), (32, 5), (64, 5), (96, 9)])
def test_discriminator_patch_map(device, size, patches):
    disc = Discriminator(3, size, width=8).to(device)
    x = torch.rand(2, 3, size, size, device=device)
    assert disc(x).shape == (2, 1, patches, patches)
    assert disc.score(x).shape == (2,)
    with pytest.raises(ValueError, match="16"):
        Discriminator(3, 8)


def test_small_classifier_and_soft_ssim(device):
    logits = SmallClassifier(3, 5, width=4).to(device)(torch.rand(3, 3, 16, 16, device=device))
    assert logits.shape == (3, 5) and logits.device.type == torch.device(device).type
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (2, 3, 24, 24), generator=g, dtype=torch.uint8).to(device)
    b = (a.int() + torch.randint(-40, 40, a.shape, generator=g).to(device)).clamp(0, 255).to(torch.uint8)
    soft = soft_ssim(a.float() / 255, b.float() / 255)
    torch.testing.assert_close(soft, ssim(a, b), atol=0.01, rtol=0)  # N vs N - 1 covariances
    torch.testing.assert_close(soft_ssim(a.float() / 255, a.float() / 255), torch.ones(2, device=device))


# ------------------------------------------------------------------------------ TN-model


def test_tn_model_training_result(tn_model, tiny):
    assert tn_model.cipher.name == "tn_model" and tn_model.cipher.invertible is False
    assert set(tn_model.losses) == {"total", "cross_entropy", "dissimilarity", "accuracy"}
    assert all(len(v) == 2 and all(math.isfinite(x) for x in v) for v in tn_model.losses.values())
    assert set(tn_model.metrics) == {"classifier_train_accuracy", "plain_accuracy", "protected_accuracy", "ssim_to_plain"}
    assert tn_model.images_per_second > 0 and tn_model.n_train == 24
    assert tn_model.settings["evaluated_on"] == "eval_images" and tn_model.settings["lam"] == 5.0
    assert set(tn_model.state_dict) == set(tn_model.cipher.network.state_dict())
    assert isinstance(tn_model.networks["classifier"], SmallClassifier)
    assert "cipher" not in tn_model.to_dict()


def test_tn_model_is_reproducible(tn_model, tiny):
    again = train_tn_model(tiny.train, tiny.train_labels, epochs=2, classifier_epochs=1, batch_size=8, base=4,
                           depth=2, eval_images=tiny.val, eval_labels=tiny.val_labels, device="cpu", progress=False,
                           seed=1, num_threads=1)
    assert again.losses == tn_model.losses and again.metrics == tn_model.metrics
    assert torch.equal(again.cipher.encrypt(tiny.test), tn_model.cipher.encrypt(tiny.test))


def test_tn_model_with_a_given_classifier_and_ssim_term(device, tiny):
    torch.manual_seed(0)
    classifier = SmallClassifier(3, len(tiny.classes), width=4)
    result = train_tn_model(tiny.train.to(device), tiny.train_labels.to(device), classifier=classifier,
                            dissimilarity="ssim", lam=1.0, epochs=1, batch_size=8, base=4, depth=2, device=device,
                            progress=False)
    assert result.networks["classifier"] is classifier
    assert all(not p.requires_grad for p in classifier.parameters())  # frozen
    assert "classifier_train_accuracy" not in result.metrics
    y = result.cipher.encrypt(tiny.test.to(device))
    assert (y.shape, y.dtype, y.device) == (tiny.test.shape, torch.uint8, tiny.test.to(device).device)


def test_transform_net_cipher_interface(tn_model, tiny, device):
    cipher = tn_model.cipher
    y = cipher.encrypt(tiny.test.to(device))
    assert (y.shape, y.dtype, y.device) == (tiny.test.shape, torch.uint8, tiny.test.to(device).device)
    assert torch.equal(cipher.encrypt(tiny.test[0].to(device)), y[0])  # single image, same result
    assert torch.equal(cipher.encrypt(tiny.test.to(device), key="ignored"), y)  # keyless
    assert cipher.key_space_log2((3, 16, 16)) == 0.0 and not hasattr(cipher, "decrypt")
    with pytest.raises(TypeError, match="uint8"):
        cipher.encrypt(tiny.test.float())
    with pytest.raises(ValueError, match="multiples of 4"):
        cipher.encrypt(torch.zeros(1, 3, 10, 10, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channels"):
        cipher.encrypt(torch.zeros(1, 1, 16, 16, dtype=torch.uint8))


def test_save_load_round_trip(tn_model, tiny, tmp_path, device):
    path = tn_model.cipher.save(tmp_path / "tn.pt")
    loaded = TransformNet.load(path, device=device)
    assert loaded.name == "tn_model" and loaded.config == tn_model.cipher.config
    assert loaded.device.type == torch.device(device).type
    assert torch.equal(loaded.encrypt(tiny.test.to(device)).cpu(), tn_model.cipher.encrypt(tiny.test))
    rebuilt = TransformNet.from_state_dict(tn_model.state_dict, tn_model.cipher.config)
    assert torch.equal(rebuilt.encrypt(tiny.test), tn_model.cipher.encrypt(tiny.test))
    with pytest.raises(FileNotFoundError, match="no transform-network file"):
        TransformNet.load(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a transform-network file"):
        TransformNet.load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot read"):
        TransformNet.load(tmp_path / "junk.pt")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"labels": torch.zeros(24, dtype=torch.int32)}, TypeError, "labels"),
        ({"labels": torch.zeros(23, dtype=torch.int64)}, ValueError, "labels"),
        ({"images": torch.zeros(24, 3, 16, 16)}, TypeError, "images"),
        ({"dissimilarity": "l1"}, ValueError, "dissimilarity"),
        ({"lam": -1}, ValueError, "lam"),
        ({"depth": 5}, ValueError, "multiples of 32"),
        ({"num_classes": 1}, ValueError, "num_classes"),
        ({"classifier": "resnet"}, TypeError, "classifier"),
        ({"eval_images": torch.zeros(2, 3, 16, 16, dtype=torch.uint8)}, ValueError, "both"),
    ],
)
def test_tn_model_bad_inputs(tiny, kwargs, error, match):
    args = {"images": tiny.train, "labels": tiny.train_labels, "progress": False, "epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        train_tn_model(**args)


def test_transform_net_needs_a_unet():
    with pytest.raises(TypeError, match="UNet"):
        TransformNet(nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="name"):
        TransformNet(UNet(base=2, depth=1), name="rvt")


# ------------------------------------------------------------------------------ TN-GAN


def test_tn_gan_short_run_is_reproducible(tiny, device):
    runs = [train_tn_gan(tiny.train.to(device), epochs=1, batch_size=4, base=4, depth=2, disc_width=8, seed=5,
                         device=device, progress=False, num_threads=1) for _ in range(2)]
    result = runs[0]
    assert result.cipher.name == "tn_gan" and result.settings["target"] == "pixelwise(different)"
    assert result.settings["n_plain"] == 12 and result.settings["n_protected"] == 12
    assert all(len(v) == 1 and math.isfinite(v[0]) for v in result.losses.values())
    assert set(result.metrics) == {"ssim_to_plain", "cycle_ssim"}
    assert set(result.networks) == {"inverse_generator", "discriminator_plain", "discriminator_protected"}
    y = result.cipher.encrypt(tiny.test.to(device))
    assert (y.shape, y.dtype) == (tiny.test.shape, torch.uint8)
    if torch.device(device).type == "cpu":
        assert runs[0].losses == runs[1].losses
        assert torch.equal(y, runs[1].cipher.encrypt(tiny.test))


def test_tn_gan_with_given_targets_and_errors(tiny):
    targets = 255 - tiny.test.repeat(2, 1, 1, 1)
    result = train_tn_gan(tiny.train[:8], targets, epochs=1, batch_size=4, base=4, depth=2, disc_width=8,
                          device="cpu", progress=False)
    assert result.settings["target"] == "given target_images" and result.settings["n_protected"] == 12
    with pytest.raises(ValueError, match="target_cipher and key"):
        train_tn_gan(tiny.train, targets, target_cipher=object(), progress=False)
    with pytest.raises(TypeError, match="target_cipher"):
        train_tn_gan(tiny.train, target_cipher=object(), progress=False)
    with pytest.raises(ValueError, match="target_images must be shaped"):
        train_tn_gan(tiny.train, targets[:, :1], progress=False)
    with pytest.raises(ValueError, match="side >= 16"):
        train_tn_gan(torch.zeros(8, 3, 8, 8, dtype=torch.uint8), depth=2, progress=False)
    with pytest.raises(ValueError, match="beta1"):
        train_tn_gan(tiny.train, beta1=1.5, progress=False)


def test_training_leaves_the_global_rng_alone(tiny):
    state = torch.random.get_rng_state()
    train_tn_model(tiny.train, tiny.train_labels, epochs=1, classifier_epochs=1, batch_size=8, base=2, depth=1,
                   device="cpu", progress=False)
    train_tn_gan(tiny.train, epochs=1, batch_size=8, base=2, depth=1, disc_width=4, device="cpu", progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
