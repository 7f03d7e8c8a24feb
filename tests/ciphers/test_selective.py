"""Selective (MSB) encryption: exact inverse, clear part, key bits, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers import SelectiveEncryption, selective
from imgleak.keys import Key, keystream_bits


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


def _n_bit_groups(stream_bits: np.ndarray, bits: int) -> np.ndarray:
    """Reference key mask: the bit stream cut into groups of ``bits`` (MSB first), each shifted to the top of a byte."""
    groups = stream_bits.reshape(-1, bits).astype(np.int64)
    return (groups * (1 << np.arange(bits - 1, -1, -1))).sum(axis=1) << (8 - bits)


image_shapes = st.tuples(
    st.sampled_from([(), (1,), (2,), (3,)]),  # no batch axis, or N images
    st.integers(1, 3), st.integers(1, 9), st.integers(1, 9),
).map(lambda t: (*t[0], t[1], t[2], t[3]))


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(0, 8), shape=image_shapes, seed=st.integers(0, 2**32 - 1))
def test_decrypt_inverts_encrypt_exactly_with_or_without_out(device, bits, shape, seed):
    cipher = SelectiveEncryption(bits)
    x = _random_images(shape, seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key), x)
    assert torch.equal(cipher.clear_part(y).long(), x.long() % 2 ** (8 - bits))
    out = torch.full_like(x, 7)  # out= writes the same bytes there and returns out itself
    assert cipher.encrypt(x, key, out=out) is out
    assert torch.equal(out, y)
    back = torch.empty_like(x)
    assert cipher.decrypt(out, key, out=back) is back
    assert torch.equal(back, x)
    in_place = x.clone()  # out=x encrypts and decrypts in place
    assert cipher.encrypt(in_place, key, out=in_place) is in_place
    assert torch.equal(in_place, y)
    assert torch.equal(cipher.decrypt(in_place, key, out=in_place), x)


def test_zero_bits_is_the_identity(device):
    x = _random_images((2, 3, 8, 8), 0, device)
    assert torch.equal(SelectiveEncryption(0).encrypt(x, Key.from_seed(1)), x)


@pytest.mark.parametrize("bits", range(9))
def test_only_the_most_significant_bits_change(device, bits):
    cipher = SelectiveEncryption(bits)
    x = _random_images((2, 3, 16, 16), bits, device)
    y = cipher.encrypt(x, Key.from_seed(3))
    low = (1 << (8 - bits)) - 1
    assert torch.equal(y & low, x & low)
    clear = cipher.clear_part(y)
    assert torch.equal(clear, x & low)
    assert int(clear.max()) <= low
    scaled = cipher.scaled_clear_part(y)
    assert scaled.dtype == torch.uint8
    assert torch.equal(scaled, ((x & low).int() << bits).to(torch.uint8))


@pytest.mark.parametrize("bits", range(1, 9))
def test_key_bits_are_the_chacha_stream_cut_into_n_bit_groups(device, bits):
    cipher = SelectiveEncryption(bits)
    key = Key.from_seed(11)
    x = torch.zeros(2, 3, 5, 7, dtype=torch.uint8, device=device)  # 210 samples, not a multiple of 8
    mask = cipher.encrypt(x, key).cpu().numpy().reshape(-1).astype(np.int64)
    assert np.array_equal(mask, _n_bit_groups(keystream_bits(key.derive("selective"), bits * x.numel()), bits))


@pytest.mark.parametrize("bits", range(1, 9))
def test_cpu_parts_and_chunks_continue_the_key_stream(monkeypatch, bits):
    # Small parts and chunks, several threads: 3 * 3 * 17 * 19 = 2907 samples make 3 parts of up
    # to 2 chunks, the last ones partial and not a multiple of 8 samples.
    monkeypatch.setattr(selective, "_CHUNK", 512)
    monkeypatch.setattr(selective, "_PART", 1024)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    key = Key.from_seed(12)
    x = _random_images((3, 3, 17, 19), bits, torch.device("cpu"))
    y = SelectiveEncryption(bits).encrypt(x, key)
    mask = _n_bit_groups(keystream_bits(key.derive("selective"), bits * x.numel()), bits)
    assert np.array_equal(y.numpy().reshape(-1), x.numpy().reshape(-1) ^ mask.astype(np.uint8))
    in_place = x.clone()
    SelectiveEncryption(bits).encrypt(in_place, key, out=in_place)  # every part reads what it writes
    assert torch.equal(in_place, y)


@pytest.mark.parametrize("bits", range(1, 9))
def test_device_key_mask_equals_the_cpu_one(device, bits):
    stream = np.random.default_rng(bits).integers(0, 256, 64 * bits, dtype=np.uint8)  # keys 512 samples
    expected = _n_bit_groups(np.unpackbits(stream), bits).astype(np.uint8)
    mask = np.empty(512, np.uint8)
    assert selective._key_mask_numpy(stream, bits, mask) is mask
    assert np.array_equal(mask, expected)
    on_device = selective._key_mask_torch(torch.from_numpy(stream).to(device), bits)
    assert on_device.dtype == torch.uint8 and on_device.device == device
    assert np.array_equal(on_device.cpu().numpy(), expected)


def test_the_batch_keystream_runs_on_across_images(device):
    cipher = SelectiveEncryption(4)
    key = Key.from_seed(5)
    image = _random_images((3, 6, 6), 0, device)
    batch = cipher.encrypt(torch.stack([image, image]), key)
    assert not torch.equal(batch[0], batch[1])  # every image gets its own key bits
    assert torch.equal(batch[0], cipher.encrypt(image, key))  # the first uses the stream's start


def test_encrypted_msbs_look_uniform(device):
    x = torch.full((4, 1, 256, 256), 77, dtype=torch.uint8, device=device)
    y = SelectiveEncryption(8).encrypt(x, Key.from_seed(2))
    counts = torch.bincount(y.reshape(-1).long(), minlength=256).cpu().double()
    expected = x.numel() / 256
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 255 + 6 * (2 * 255) ** 0.5  # chi-square, 255 degrees of freedom: mean 255, sd 22.6
    top3 = SelectiveEncryption(3).encrypt(x, Key.from_seed(2)) >> 5
    shares = torch.bincount(top3.reshape(-1).long(), minlength=8).cpu().double() / x.numel()
    assert torch.allclose(shares, torch.full((8,), 1 / 8, dtype=torch.float64), atol=0.005)


def test_different_keys_give_different_ciphers(device):
    cipher = SelectiveEncryption(3)
    x = _random_images((1, 3, 16, 16), 0, device)
    assert torch.equal(cipher.encrypt(x, Key.from_seed(1)), cipher.encrypt(x, Key.from_seed(1)))
    assert not torch.equal(cipher.encrypt(x, Key.from_seed(1)), cipher.encrypt(x, Key.from_seed(2)))


def test_non_contiguous_input(device):
    cipher = SelectiveEncryption(5)
    x = _random_images((2, 3, 8, 12), 4, device).transpose(-1, -2)
    key = Key.from_seed(0)
    y = cipher.encrypt(x, key)
    assert y.shape == x.shape
    assert torch.equal(cipher.decrypt(y, key), x)
    assert torch.equal(y, cipher.encrypt(x.contiguous(), key))


def test_attributes_and_key_space():
    cipher = SelectiveEncryption(3)
    assert cipher.invertible is True
    assert cipher.name == "selective"
    assert cipher.bits == 3
    assert cipher.key_space_log2((3, 4, 5)) == 3 * 60
    assert cipher.key_space_log2(torch.Size([2, 3, 4, 5])) == 3 * 120
    assert SelectiveEncryption(0).key_space_log2((3, 4, 5)) == 0
    assert SelectiveEncryption(np.int64(2)) == SelectiveEncryption(2)


@pytest.mark.parametrize("bits", [-1, 9, 2.0, "3", True, None])
def test_bad_bit_count(bits):
    with pytest.raises(ValueError, match="0 to 8"):
        SelectiveEncryption(bits)


def test_bad_images_and_keys(device):
    cipher = SelectiveEncryption(2)
    key = Key.from_seed(0)
    for method in (cipher.encrypt, cipher.decrypt):
        with pytest.raises(TypeError, match="uint8"):
            method(torch.zeros(1, 3, 4, 4, dtype=torch.float32, device=device), key)
        with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
            method(torch.zeros(4, 4, dtype=torch.uint8, device=device), key)
        with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
            method(torch.zeros(1, 1, 3, 4, 4, dtype=torch.uint8, device=device), key)
        with pytest.raises(TypeError, match="imgleak Key"):
            method(torch.zeros(3, 4, 4, dtype=torch.uint8, device=device), 42)
    with pytest.raises(TypeError, match="uint8"):
        cipher.clear_part(torch.zeros(3, 4, 4, dtype=torch.int64, device=device))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        cipher.scaled_clear_part(torch.zeros(4, dtype=torch.uint8, device=device))


@pytest.mark.parametrize("bits", [1, 4, 8])
def test_out_with_a_non_contiguous_input_or_a_view_of_a_larger_tensor(device, bits):
    cipher = SelectiveEncryption(bits)
    key = Key.from_seed(6)
    x = _random_images((2, 3, 8, 12), 4, device).transpose(-1, -2)
    storage = torch.zeros(2 * x.numel(), dtype=torch.uint8, device=device)
    out = storage[x.numel():].view(x.shape)  # contiguous, at an offset in someone else's memory
    assert cipher.encrypt(x, key, out=out) is out
    assert torch.equal(out, cipher.encrypt(x.contiguous(), key))
    assert not storage[:x.numel()].any()


def test_bad_out(device):
    cipher = SelectiveEncryption(3)
    key = Key.from_seed(0)
    x = _random_images((2, 3, 4, 4), 0, device)
    other_device = torch.device("meta" if device.type == "cpu" else "cpu")
    for method in (cipher.encrypt, cipher.decrypt):
        with pytest.raises(TypeError, match="out must be a torch.Tensor"):
            method(x, key, out=x.cpu().numpy())
        with pytest.raises(TypeError, match="out must have dtype torch.uint8"):
            method(x, key, out=torch.empty(x.shape, dtype=torch.int16, device=device))
        with pytest.raises(ValueError, match=r"shape \(2, 3, 4, 4\)"):
            method(x, key, out=torch.empty(2, 3, 4, 5, dtype=torch.uint8, device=device))
        with pytest.raises(ValueError, match=r"shape \(3, 4, 4\)"):  # a single image wants a single image
            method(x[0], key, out=torch.empty_like(x[:1]))
        with pytest.raises(ValueError, match="device"):
            method(x, key, out=torch.empty(x.shape, dtype=torch.uint8, device=other_device))
        with pytest.raises(ValueError, match="contiguous"):
            method(x, key, out=torch.empty(2, 3, 4, 4, dtype=torch.uint8, device=device).transpose(-1, -2))
        storage = torch.zeros(x.numel() + 1, dtype=torch.uint8, device=device)
        with pytest.raises(ValueError, match="overlaps"):  # one sample later in the same memory
            method(storage[:-1].view(x.shape), key, out=storage[1:].view(x.shape))
        with pytest.raises(ValueError, match="overlaps"):  # same first byte, other layout
            method(storage[:-1].view(2, 3, 4, 4).transpose(-1, -2), key, out=storage[:-1].view(2, 3, 4, 4))
    assert not storage.any()  # nothing was written before the checks failed


@pytest.mark.parametrize("bits", range(1, 9))
def test_first_index_continues_the_keystream_at_any_offset(device, bits):
    # 3·7·9 = 189 samples an image: chunks start inside ChaCha20 blocks, not on their boundaries
    cipher, key = SelectiveEncryption(bits), Key.from_seed(bits)
    x = torch.randint(0, 256, (6, 3, 7, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(bits)).to(device)
    whole = cipher.encrypt(x, key, first_index=1)
    chunks = torch.cat([cipher.encrypt(x[s:s + k], key, first_index=1 + s) for s, k in ((0, 1), (1, 3), (4, 2))])
    assert torch.equal(chunks, whole)
    assert torch.equal(cipher.encrypt(x, key)[1:], cipher.encrypt(x[1:], key, first_index=1))
    assert torch.equal(cipher.decrypt(whole, key, first_index=1), x)


def test_first_index_is_checked_against_the_keystream_end_by_name():
    """(3, 8, 8) images at 4 bits take 768 key bits each; the stream holds 2**41 bits: 2863311530 images."""
    cipher, key = SelectiveEncryption(bits=4), Key.from_seed(0)
    x = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    last = 2**41 // 768 - 1
    y = cipher.encrypt(x, key, first_index=last)  # the last image the stream keys
    assert torch.equal(cipher.decrypt(y, key, first_index=last), x)
    with pytest.raises(ValueError, match=rf"first_index must be in \[0, {last}\] for 1 image\(s\) of \(3, 8, 8\) "
                                         rf"at bits=4.*got first_index={last + 1}"):
        cipher.encrypt(x, key, first_index=last + 1)
    with pytest.raises(ValueError, match=r"first_index must be in \[0, .*got first_index=1099511627776"):
        cipher.encrypt(x, key, first_index=2**40)
