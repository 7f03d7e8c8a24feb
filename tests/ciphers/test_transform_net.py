"""TN-model / TN-GAN on the cipher interface: the key is a TransformNet (a U-Net); its weights
file round trip and the named errors of a bad file."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.ciphers import Cipher, KeyedCipher, NotInvertibleError
from imgleak.ciphers.transform_net import ENCRYPT_BATCH, TNGAN, TNModel, TransformNet
from imgleak.keys import Key
from imgleak.ciphers.unet import UNet
from imgleak.tensors import to_uint8, to_unit

SCHEMES = [TNModel(), TNGAN()]


def _images(shape, seed=0, device="cpu"):
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)).to(device)


@pytest.mark.parametrize("cipher", SCHEMES, ids=lambda c: c.name)
def test_interface_facts(cipher):
    assert isinstance(cipher, Cipher) and cipher.name in ("tn_model", "tn_gan")
    assert cipher.invertible is False and cipher.per_image_keys is False
    assert cipher.key_space_log2((3, 32, 32)) == 0.0 and cipher.key_space_log2((7, 3, 8, 8)) == 0.0
    assert cipher.describe() == {"tn_model": "TN-model", "tn_gan": "TN-GAN"}[cipher.name] + \
        " (trained U-Net; its weights are the secret)"
    with pytest.raises(ValueError, match="shape must be"):
        cipher.key_space_log2((32, 32))
    with pytest.raises(NotInvertibleError, match="not invertible"):
        cipher.decrypt(_images((1, 3, 8, 8)), cipher.make_key(0, (3, 8, 8)))


def test_encrypt_is_the_network_on_8_bit_images(device):
    key = TNModel().make_key(3, (2, 8, 8)).to(device)
    x = _images((5, 2, 8, 8), device=device)
    with torch.no_grad():
        expected = to_uint8(key.network(to_unit(x)))
    y = TNModel().encrypt(x, key)
    assert (y.dtype, y.device) == (torch.uint8, x.device) and torch.equal(y, expected)
    assert torch.equal(TNModel().encrypt(x[1], key, first_index=1), y[1])  # one image, same result


def test_make_key_is_seeded_sized_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    key = TNGAN().make_key(0, (1, 16, 16))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert key.name == "tn_gan" and key.config == {"in_channels": 1, "out_channels": 1, "base": 8, "depth": 2}
    assert key.multiple == 4 and not key.network.training
    x = _images((3, 1, 16, 16))
    assert torch.equal(TNGAN().encrypt(x, TNGAN().make_key(0, (1, 16, 16))), TNGAN().encrypt(x, key))
    assert not torch.equal(TNGAN().encrypt(x, TNGAN().make_key(1, (1, 16, 16))), TNGAN().encrypt(x, key))
    assert TNModel().make_key(0, (3, 8, 8), base=2, depth=3).multiple == 8
    with pytest.raises(TypeError, match="seed"):
        TNModel().make_key(1.5, (3, 8, 8))
    with pytest.raises(ValueError, match="shape must be"):
        TNModel().make_key(0, "abc")


def test_batches_layouts_and_chunks_give_one_result():
    key = TNModel().make_key(0, (3, 8, 8))
    x = _images((ENCRYPT_BATCH + 3, 3, 8, 8), seed=1)
    whole = TNModel().encrypt(x, key)
    assert torch.equal(TNModel().encrypt(x.to(memory_format=torch.channels_last), key), whole)
    assert torch.equal(TNModel().encrypt(x.transpose(-1, -2).contiguous().transpose(-1, -2), key), whole)
    assert torch.equal(KeyedCipher(TNModel(), key).encrypt(x, chunk=5), whole)


def test_bad_keys_sizes_and_empty_batches(device):
    key = TNModel().make_key(0, (3, 8, 8))
    for bad in (None, "abc", Key.from_seed(0), key.network):
        with pytest.raises(TypeError, match="key must be a TransformNet"):
            TNModel().encrypt(_images((1, 3, 8, 8)), bad)
    with pytest.raises(ValueError, match="x must have 3 channels"):
        TNModel().encrypt(_images((1, 1, 8, 8)), key)
    with pytest.raises(ValueError, match="multiples of 4"):
        TNModel().encrypt(_images((1, 3, 6, 8)), key)
    with pytest.raises(ValueError, match="first_index"):
        TNModel().encrypt(_images((1, 3, 8, 8)), key, first_index=-1)
    with pytest.raises(TypeError, match="uint8"):
        TNModel().encrypt(_images((1, 3, 8, 8)).float(), key)
    empty = _images((0, 3, 8, 8), device=device)
    out = TNModel().encrypt(empty, key)
    assert (out.shape, out.dtype, out.device) == (empty.shape, torch.uint8, empty.device)


# ------------------------------------------------------------------------------ the key object


def test_transform_net_needs_a_unet_and_a_known_name():
    with pytest.raises(TypeError, match="UNet"):
        TransformNet(nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="name"):
        TransformNet(UNet(base=2, depth=1), name="rvt")
    key = TransformNet(UNet(base=2, depth=1).train())
    assert not key.network.training and repr(key) == "TransformNet('tn_model', base=2, depth=1, device=cpu)"


def test_save_load_round_trip(tmp_path, device):
    key = TNGAN().make_key(4, (3, 8, 8))
    x = _images((4, 3, 8, 8))
    path = key.save(tmp_path / "tn.pt")
    loaded = TransformNet.load(path, device=device)
    assert loaded.name == "tn_gan" and loaded.config == key.config and loaded.device.type == torch.device(device).type
    assert torch.equal(TNGAN().encrypt(x.to(device), loaded).cpu(), TNGAN().encrypt(x, key))
    rebuilt = TransformNet.from_state_dict(key.state_dict(), key.config, "tn_gan")
    assert torch.equal(TNGAN().encrypt(x, rebuilt), TNGAN().encrypt(x, key))


def test_loading_leaves_the_global_rng_alone(tmp_path):
    path = TNModel().make_key(0, (3, 8, 8)).save(tmp_path / "tn.pt")
    state = torch.random.get_rng_state()
    TransformNet.load(path)
    assert torch.equal(torch.random.get_rng_state(), state)


def _saved(tmp_path, **changes):
    key = TNModel().make_key(0, (3, 8, 8))
    data = {"format": "imgleak.transform_net/1", "name": "tn_model", "config": key.config,
            "state_dict": key.state_dict(), **changes}
    path = tmp_path / "changed.pt"
    torch.save({k: v for k, v in data.items() if v is not None}, path)
    return path


def test_a_bad_file_is_a_named_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no transform-network file"):
        TransformNet.load(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="path must be"):
        TransformNet.load(3)
    torch.save({"something": 1}, tmp_path / "other.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    for name in ("other.pt", "list.pt"):
        with pytest.raises(ValueError, match=f"{name}' is not a transform-network file"):
            TransformNet.load(tmp_path / name)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    good = TNModel().make_key(0, (3, 8, 8)).save(tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    for name in ("junk.pt", "truncated.pt"):
        with pytest.raises(ValueError, match=f"cannot read transform-network file .*{name}"):
            TransformNet.load(tmp_path / name)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"state_dict": None}, r"lacks \['state_dict'\]"),
        ({"config": None, "name": None}, r"lacks \['name', 'config'\]"),
        ({"name": "rvt"}, "damaged: name must be one of"),
        ({"config": {"in_channels": 3, "out_channels": 3, "base": 8, "depth": 3}}, "damaged: state_dict does not fit"),
        ({"config": {"in_channels": 3, "out_channels": 3, "base": 16, "depth": 2}}, "size mismatch"),
        ({"config": {"in_channels": 3, "base": 8, "depth": 2}}, "damaged: config must be a U-Net configuration"),
        ({"config": {"in_channels": 3, "out_channels": 3, "base": 0, "depth": 2}}, "damaged: base must be"),
        ({"state_dict": {"inc.0.weight": 3}}, "damaged: state_dict must map parameter names to tensors"),
        ({"state_dict": {}}, "(?s)damaged: state_dict does not fit.*Missing key"),
    ],
)
def test_a_damaged_file_is_a_named_error(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match) as err:
        TransformNet.load(_saved(tmp_path, **changes))
    assert "changed.pt" in str(err.value)
