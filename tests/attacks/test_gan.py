"""GAN-Attack: scheme-shaped generators, a short reproducible run, the result interface, errors."""

from __future__ import annotations

import math

import pytest
import torch

from imgleak.attacks.datasets import halves, photo_crops
from imgleak.attacks.gan import PAPER_GAN, train_gan_attack
from imgleak.attacks.inverse_network import scheme_networks
from imgleak.attacks.inverse_network import AttackResult, evaluate_attack, reconstruct
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.keys import Key


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    data = photo_crops(24, 6, 16, seed=1)
    t1, t2 = halves(data.train, seed=0)
    return data, t1, t2


def test_paper_settings_and_generators():
    assert PAPER_GAN == {"epochs": 100, "lr": 2e-4, "beta1": 0.5, "batch_size": 64, "disc_width": 64}
    generators = scheme_networks("gan")  # as each cipher class declares
    assert generators == {"pixelwise": "conv1x1", "blockwise": "block", "etc": "block", "tn_model": "unet",
                          "tn_gan": "unet"}


@pytest.mark.parametrize("scheme", ["pixelwise", "blockwise", "tn_gan"])
def test_short_run_shapes_and_finite_losses(device, tiny, scheme):
    data, t1, t2 = tiny
    key = Key.from_seed(0)
    cipher = BlockwiseScramble() if scheme == "blockwise" else PixelwiseEncryption()
    c1 = cipher.encrypt(t1.to(device), key)
    test_c = cipher.encrypt(data.test.to(device), key)
    result = train_gan_attack(c1, t2.to(device), scheme, epochs=2, batch_size=4, device=device,
                              test_cipher_images=test_c, test_plain_images=data.test.to(device), progress=False)
    assert isinstance(result, AttackResult) and result.attack == "gan"
    assert result.architecture == scheme_networks("gan")[scheme]
    curves = [result.train_loss, result.test_loss, result.test_ssim, *result.extra.values()]
    assert all(len(c) == 2 and all(math.isfinite(v) for v in c) for c in curves)
    assert all(0 <= v <= 1 for v in result.extra["d_real"] + result.extra["d_fake"])
    assert "discriminator" in result.auxiliary
    rec = reconstruct(result, test_c)
    assert (rec.shape, rec.dtype, rec.device) == (test_c.shape, torch.uint8, test_c.device)
    scores = evaluate_attack(result, test_c, data.test.to(device))
    assert -1 <= scores["ssim"] <= 1 and scores["ssim"] == pytest.approx(result.test_ssim[-1], abs=1e-6)


def test_reproducible_from_a_seed(tiny):
    _, t1, t2 = tiny
    c1 = PixelwiseEncryption().encrypt(t1, Key.from_seed(1))
    runs = [train_gan_attack(c1, t2, "pixelwise", epochs=1, batch_size=4, seed=3, device="cpu", progress=False,
                             num_threads=1) for _ in range(2)]
    assert runs[0].train_loss == runs[1].train_loss and runs[0].extra == runs[1].extra
    assert torch.equal(reconstruct(runs[0], c1), reconstruct(runs[1], c1))


def test_generator_batch_norm_statistics_are_those_of_its_final_weights(tiny):
    # running averages from BN's initial variance 1 left the eval-mode generator a flat grey (std 0.5 of 255)
    _, t1, t2 = tiny
    c1 = PixelwiseEncryption().encrypt(t1, Key.from_seed(1))
    result = train_gan_attack(c1, t2, "pixelwise", epochs=1, batch_size=len(c1), device="cpu", progress=False)
    generator, x = result.network, c1.float() / 255
    with torch.no_grad():
        evaluated = generator(x)
        generator.train()
        trained = generator(x)
        generator.eval()
    assert torch.allclose(evaluated, trained, atol=1e-3)
    assert reconstruct(result, c1).float().std() > 3


def test_unequal_halves_and_96_pixel_discriminator():
    plain = torch.randint(0, 256, (5, 3, 96, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    result = train_gan_attack(plain[:3], plain[3:], "blockwise", epochs=1, batch_size=3, device="cpu", progress=False,
                              options={"widths": (16, 32)})
    assert result.settings["n_cipher"] == 3 and result.settings["n_plain"] == 2
    assert result.auxiliary["discriminator"](torch.rand(2, 3, 96, 96)).shape == (2, 1, 9, 9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"cipher_images": torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
          "plain_images": torch.zeros(4, 3, 8, 8, dtype=torch.uint8)}, ValueError, "16x16"),
        ({"plain_images": torch.zeros(4, 1, 16, 16, dtype=torch.uint8)}, ValueError, "share"),
        ({"plain_images": torch.zeros(4, 3, 16, 16)}, TypeError, "plain_images"),
        ({"architecture": "vit"}, ValueError, "architecture"),
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"lr": 0}, ValueError, "lr"),
        ({"disc_width": 0}, ValueError, "disc_width"),
        ({"test_plain_images": torch.zeros(2, 3, 16, 16, dtype=torch.uint8)}, ValueError, "both"),
    ],
)
def test_bad_inputs(kwargs, error, match):
    args = {"cipher_images": torch.zeros(4, 3, 16, 16, dtype=torch.uint8),
            "plain_images": torch.zeros(4, 3, 16, 16, dtype=torch.uint8), "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        train_gan_attack(**args)


def test_settings_are_the_frozen_config(tiny):
    from imgleak.attacks.gan import GANAttackConfig
    from imgleak.training.run_settings import setting_names

    _, t1, t2 = tiny
    result = train_gan_attack(t1, t2, "blockwise", epochs=1, batch_size=4, disc_width=8, device="cpu", progress=False,
                              seed=2)
    settings = result.settings
    assert settings["discriminator"] == {"channels": 3, "image_size": 16, "width": 8, "max_downsamplings": 4}
    assert settings["betas"] == [0.5, 0.999] and settings["optimizer"] == "Adam" and settings["seed"] == 2
    assert (settings["n_cipher"], settings["n_plain"], settings["n_test"]) == (len(t1), len(t2), 0)
    config = GANAttackConfig(**{k: v for k, v in settings.items() if k in setting_names(GANAttackConfig)})
    again = train_gan_attack(t1, t2, "blockwise", config, progress=False)  # the record replays
    assert again.settings == settings and again.train_loss == result.train_loss
    assert result.auxiliary["discriminator"].config == settings["discriminator"]
    assert "auxiliary" not in result.to_dict() and result.to_dict()["extra"] == result.extra
