"""ITN-Attack: locally connected layers, scheme-shaped networks, training, reconstruction, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.attacks.datasets import photo_crops
from imgleak.attacks.inverse_network import (
    ARCHITECTURES,
    PAPER_ARCHITECTURES,
    PAPER_ITN_SCHEDULES,
    AttackResult,
    BlockNet,
    LocallyConnected1x1,
    build_network,
    evaluate_attack,
    reconstruct,
    train_inverse_network,
)
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.keys import Key
from imgleak.metrics import ssim


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def crops32():
    """256 training and 96 test crops of 32 x 32, split by photo."""
    return photo_crops(256, 96, 32, seed=0)


def _images(n: int, size: int, seed: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8).to(device)


# ------------------------------------------------------------------------------ locally connected


def test_locally_connected_shapes_and_device(device):
    layer = LocallyConnected1x1(3, 5, 4, 6).to(device)
    assert layer.weight.shape == (24, 5, 3) and layer.bias.shape == (24, 5)
    y = layer(torch.rand(2, 3, 4, 6, device=device))
    assert (y.shape, y.dtype, y.device) == ((2, 5, 4, 6), torch.float32, torch.device(device))
    with pytest.raises(ValueError, match="locally connected"):
        layer(torch.rand(2, 3, 6, 4, device=device))


def test_locally_connected_matches_a_per_pixel_product(device):
    layer = LocallyConnected1x1(3, 2, 3, 3).to(device)
    x = torch.rand(4, 3, 3, 3, device=device)
    y = layer(x)
    for u in range(3):
        for v in range(3):
            p = u * 3 + v
            expected = x[:, :, u, v] @ layer.weight[p].T + layer.bias[p]
            torch.testing.assert_close(y[:, :, u, v], expected)


def test_locally_connected_weights_are_unshared(device):
    torch.manual_seed(0)
    layer = LocallyConnected1x1(3, 4, 5, 5).to(device)
    x = torch.rand(2, 3, 5, 5, device=device)
    before = layer(x).detach()
    with torch.no_grad():
        layer.weight[7] += 1.0  # the pixel at row 1, column 2
    changed = (layer(x).detach() - before).abs().amax(dim=(0, 1)) > 0
    expected = torch.zeros(5, 5, dtype=torch.bool, device=device)
    expected[1, 2] = True
    assert torch.equal(changed, expected)
    # and the network built on it too (eval mode: BatchNorm is a fixed per-channel affine map)
    net = build_network("locally_connected", 3, 5, 5, hidden=(8, 8)).to(device).eval()
    before = net(x).detach()
    with torch.no_grad():
        net.body[0].weight[24] += 1.0  # the last pixel of the first layer
    changed = (net(x).detach() - before).abs().amax(dim=(0, 1)) > 0
    expected = torch.zeros(5, 5, dtype=torch.bool, device=device)
    expected[4, 4] = True
    assert torch.equal(changed, expected)


def test_locally_connected_with_shared_weights_is_a_1x1_conv(device):
    conv = nn.Conv2d(3, 4, 1).to(device)
    layer = LocallyConnected1x1(3, 4, 6, 6).to(device)
    with torch.no_grad():
        layer.weight.copy_(conv.weight[:, :, 0, 0].expand(36, 4, 3))
        layer.bias.copy_(conv.bias.expand(36, 4))
    x = torch.rand(2, 3, 6, 6, device=device)
    torch.testing.assert_close(layer(x), conv(x))


# ------------------------------------------------------------------------------ networks


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("size", [16, 32])
def test_every_network_maps_images_to_images(device, architecture, size):
    torch.manual_seed(0)
    net = build_network(architecture, 3, size, size).to(device)
    x = torch.rand(2, 3, size, size, device=device)
    y = net(x)
    assert (y.shape, y.dtype, y.device) == (x.shape, torch.float32, x.device)
    assert float(y.detach().min()) >= 0 and float(y.detach().max()) <= 1
    y.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_paper_network_options_build():
    for name, options in PAPER_ARCHITECTURES.items():
        net = build_network(name, 3, 32, 32, **options) if name != "locally_connected" else None
        if net is not None:
            assert net(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    lc = build_network("locally_connected", 3, 4, 4, **PAPER_ARCHITECTURES["locally_connected"])
    assert sum(p.numel() for p in lc.parameters()) == 16 * (3 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3) + 2 * 2 * 64


def test_block_network_is_per_block(device):
    torch.manual_seed(0)
    net = BlockNet(3).to(device).eval()
    x = torch.rand(1, 3, 16, 16, device=device)
    before = net(x).detach()
    x2 = x.clone()
    x2[0, :, 5, 9] = 1 - x2[0, :, 5, 9]  # a pixel of block (1, 2)
    changed = (net(x2).detach() - before).abs().amax(dim=(0, 1)) > 0
    assert changed[4:8, 8:12].any() and not changed[:4].any() and not changed[:, :8].any()


def test_network_errors():
    with pytest.raises(ValueError, match="architecture"):
        build_network("resnet", 3, 32, 32)
    with pytest.raises(TypeError, match="unknown option"):
        build_network("block", 3, 32, 32, hidden=(4,))
    with pytest.raises(ValueError, match="multiples of 4"):
        build_network("blockwise", 3, 30, 30)
    with pytest.raises(ValueError, match="multiples of 8"):
        build_network("unet", 3, 20, 20)
    with pytest.raises(ValueError, match="block²"):
        BlockNet(3, widths=(48, 50))
    with pytest.raises(TypeError, match="hidden"):
        build_network("locally_connected", 3, 8, 8, hidden=32)


# ------------------------------------------------------------------------------ the attack


def test_itn_same_key_beats_different_keys_and_the_raw_cipher(crops32):
    """The paper's Table 1 contrast: unshared 1x1 weights invert one key, not a key per image."""
    key = Key.from_seed(0)
    settings = dict(epochs=6, lr=2e-2, batch_size=16, milestones=(), options={"hidden": (16,)},
                    progress=False, device="cpu", num_threads=1, seed=0)
    scores = {}
    for mode in ("same", "different"):
        cipher = PixelwiseEncryption(mode)
        train_c = cipher.encrypt(crops32.train, key)
        test_c = cipher.encrypt(crops32.test, key, first_index=len(crops32.train))
        result = train_inverse_network(train_c, crops32.train, "pixelwise", test_cipher_images=test_c,
                                       test_plain_images=crops32.test, **settings)
        scores[mode] = evaluate_attack(result, test_c, crops32.test)["ssim"]
        scores[f"raw-{mode}"] = float(ssim(test_c, crops32.test).mean())
        assert scores[mode] == pytest.approx(result.test_ssim[-1], abs=1e-6)
    # measured: same 0.83, different 0.20, raw cipher 0.01-0.02
    assert scores["same"] > scores["different"] + 0.3
    assert scores["same"] > scores["raw-same"] + 0.4
    assert scores["raw-same"] < 0.1


def test_training_result_and_reconstruct(device):
    plain = _images(12, 16, 1, device)
    cipher = PixelwiseEncryption().encrypt(plain, Key.from_seed(2))
    result = train_inverse_network(cipher[:8], plain[:8], "pixelwise", epochs=2, batch_size=4, device=device,
                                   test_cipher_images=cipher[8:], test_plain_images=plain[8:], progress=False)
    assert isinstance(result, AttackResult) and result.attack == "itn" and result.architecture == "locally_connected"
    assert len(result.train_loss) == len(result.test_loss) == len(result.test_ssim) == 2
    assert all(torch.isfinite(torch.tensor(result.train_loss)))
    assert result.images_per_second > 0 and result.n_train == 8 and result.parameters > 0
    assert result.settings["optimizer"] == "AdamW" and result.settings["lr"] == 1e-2
    assert "network" not in result.to_dict()
    rec = reconstruct(result, cipher)
    assert (rec.shape, rec.dtype, rec.device) == (cipher.shape, torch.uint8, cipher.device)
    single = reconstruct(result, cipher[0])
    assert single.shape == cipher.shape[1:] and torch.equal(single, rec[0])
    with pytest.raises(ValueError, match="cipher_images must be shaped"):
        reconstruct(result, _images(2, 8, device=device))
    with pytest.raises(TypeError, match="AttackResult"):
        reconstruct("not a result", cipher)


def test_reproducible_from_a_seed_and_leaves_the_global_rng_alone():
    plain = _images(10, 16, 3)
    cipher = BlockwiseScramble().encrypt(plain, Key.from_seed(3))
    state = torch.random.get_rng_state()
    runs = [train_inverse_network(cipher, plain, "blockwise", epochs=2, batch_size=4, seed=7, device="cpu",
                                  progress=False, num_threads=1) for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert runs[0].train_loss == runs[1].train_loss
    assert torch.equal(reconstruct(runs[0], cipher), reconstruct(runs[1], cipher))
    other = train_inverse_network(cipher, plain, "blockwise", epochs=2, batch_size=4, seed=8, device="cpu",
                                  progress=False)
    assert other.train_loss != runs[0].train_loss


def test_sgd_paper_schedule_and_scaled_milestones():
    assert PAPER_ITN_SCHEDULES["locally_connected"]["epochs"] == 70
    assert PAPER_ITN_SCHEDULES["locally_connected"]["milestones"] == (40, 60)
    assert PAPER_ITN_SCHEDULES["block"]["milestones"] == (150, 225)
    assert PAPER_ITN_SCHEDULES["unet"]["epochs"] == 300
    plain = _images(8, 16, 4)
    result = train_inverse_network(plain, plain, "conv1x1", epochs=7, batch_size=4, optimizer="sgd", device="cpu",
                                   progress=False)
    assert result.settings["milestones"] == [4, 6] and result.settings["lr"] == 0.1
    result = train_inverse_network(plain, plain, "unet", epochs=4, batch_size=4, device="cpu", progress=False)
    assert result.settings["milestones"] == [2, 3]


def test_a_ready_module_is_trained_in_place():
    plain = _images(6, 8, 5)
    net = build_network("conv1x1", 3, 8, 8)
    result = train_inverse_network(plain, plain, net, epochs=1, batch_size=3, device="cpu", progress=False)
    assert result.network is net and result.architecture == "PixelNet"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"cipher_images": torch.zeros(4, 3, 8, 8)}, TypeError, "cipher_images"),
        ({"cipher_images": torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
          "plain_images": torch.zeros(1, 3, 8, 8, dtype=torch.uint8)}, ValueError, "at least 2"),
        ({"plain_images": torch.zeros(4, 3, 8, 4, dtype=torch.uint8)}, ValueError, "pairs of one shape"),
        ({"cipher_images": torch.zeros(3, 8, 8, dtype=torch.uint8)}, ValueError, r"\(N, C, H, W\)"),
        ({"architecture": "resnet"}, ValueError, "architecture"),
        ({"architecture": 3}, TypeError, "architecture"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 1.5}, ValueError, "batch_size"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"milestones": 3}, TypeError, "milestones"),
        ({"options": {"depth": 2}}, TypeError, "unknown option"),
        ({"test_cipher_images": torch.zeros(2, 3, 8, 8, dtype=torch.uint8)}, ValueError, "both"),
        ({"test_cipher_images": torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
          "test_plain_images": torch.zeros(2, 3, 4, 4, dtype=torch.uint8)}, ValueError, "like the training"),
        ({"seed": "1"}, TypeError, "seed"),
        ({"num_threads": 0}, ValueError, "num_threads"),
        ({"device": "tpu"}, ValueError, "device"),
    ],
)
def test_bad_inputs(kwargs, error, match):
    args = {"cipher_images": torch.zeros(4, 3, 8, 8, dtype=torch.uint8),
            "plain_images": torch.zeros(4, 3, 8, 8, dtype=torch.uint8), "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        train_inverse_network(**args)


def _result_holding(network: nn.Module) -> AttackResult:
    return AttackResult(attack="itn", architecture=type(network).__name__, train_loss=[], test_loss=[], test_ssim=[],
                        seconds=0.0, images_per_second=0.0, n_train=0, parameters=0, settings={}, network=network)


def test_network_without_parameters_runs_on_the_inputs_device(device):
    cipher = _images(3, 8, 4, device)
    result = _result_holding(nn.Identity())
    assert torch.equal(reconstruct(result, cipher), cipher)
    assert evaluate_attack(result, cipher, cipher) == {"ssim": 1.0, "psnr": 100.0}


def test_network_that_changes_the_shape_is_refused():
    with pytest.raises(ValueError, match=r"result.network turned cipher images \(2, 3, 8, 8\) into \(2, 1, 8, 8\)"):
        reconstruct(_result_holding(nn.Conv2d(3, 1, 1)), _images(2, 8))


def test_evaluate_attack_refuses_float_numpy_mismatched_and_empty_plain_images():
    cipher = _images(2, 8)
    result = _result_holding(nn.Identity())
    with pytest.raises(TypeError, match="plain_images must have dtype torch.uint8"):
        evaluate_attack(result, cipher, cipher.float() / 255)
    with pytest.raises(TypeError, match="plain_images must be a torch.Tensor"):
        evaluate_attack(result, cipher, cipher.numpy())
    with pytest.raises(TypeError, match="cipher_images must be a torch.Tensor"):
        evaluate_attack(result, cipher.numpy(), cipher)
    with pytest.raises(ValueError, match=r"plain_images must have the shape of cipher_images \(2, 3, 8, 8\)"):
        evaluate_attack(result, cipher, cipher[:1])
    with pytest.raises(ValueError, match="cipher_images holds no images"):
        evaluate_attack(result, cipher[:0], cipher[:0])


def test_settings_are_the_frozen_config_and_to_dict_leaves_the_network_out():
    import dataclasses

    from imgleak.attacks.inverse_network import ITNConfig
    from imgleak.training.run_settings import setting_names

    plain = _images(6, 8, 6)
    result = train_inverse_network(plain, plain, "conv1x1", epochs=2, batch_size=3, device="cpu", progress=False,
                                   optimizer="sgd", milestones=(1,), seed=4)
    assert result.settings == {
        "architecture": "conv1x1", "options": {"hidden": (32, 64)}, "epochs": 2, "batch_size": 3, "optimizer": "SGD",
        "lr": 0.1, "milestones": [1], "gamma": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
        "loss": "MSE on [0, 1] images", "image_shape": [3, 8, 8], "n_test": 0, "seed": 4, "device": "cpu",
        "num_threads": None,
    }
    config = ITNConfig(**{k: v for k, v in result.settings.items() if k in setting_names(ITNConfig)})
    again = train_inverse_network(plain, plain, "conv1x1", config, progress=False)  # the record replays
    assert again.settings == result.settings and again.train_loss == result.train_loss
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]
    record = result.to_dict()
    assert list(record) == ["attack", "architecture", "train_loss", "test_loss", "test_ssim", "seconds",
                            "images_per_second", "n_train", "parameters", "settings", "extra"]
    assert record["settings"] == result.settings and record["train_loss"] is not result.train_loss
    adam = train_inverse_network(plain, plain, "conv1x1", epochs=1, batch_size=3, device="cpu", progress=False)
    assert adam.settings["optimizer"] == "AdamW" and adam.settings["momentum"] is None
    with pytest.raises(ValueError, match="momentum"):
        train_inverse_network(plain, plain, "conv1x1", momentum=-1, progress=False)


def test_check_architecture_resolves_records_and_fails_early():
    from imgleak.attacks.inverse_network import check_architecture

    state = torch.random.get_rng_state()
    assert check_architecture("blockwise", None, (3, 8, 8)) == ("block", {"block": 4, "widths": (48, 48, 512)})
    assert check_architecture("unet", {"base": 4}, (3, 8, 8)) == ("unet", {"base": 4, "depth": 3})
    assert check_architecture(nn.Identity(), None, (3, 8, 8)) == ("Identity", {})
    assert torch.equal(torch.random.get_rng_state(), state)  # the trial build draws on a forked RNG
    with pytest.raises(ValueError, match="multiples of 8"):
        check_architecture("unet", None, (3, 12, 12))
    with pytest.raises(TypeError, match="options apply only to a named architecture"):
        check_architecture(nn.Identity(), {"base": 4}, (3, 8, 8))
    with pytest.raises(TypeError, match="options must be a dict"):
        check_architecture("unet", [("base", 4)], (3, 8, 8))
