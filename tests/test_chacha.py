"""ChaCha20 in torch: RFC 8439 vectors and equality with the ``cryptography`` keystream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imgleak.chacha import chacha20_block, chacha20_keystream
from imgleak.keys import Key, chacha20_encryptor, keystream_bytes

# RFC 8439, section 2.3.2: key 00 01 .. 1f, nonce 00 00 00 09 00 00 00 4a 00 00 00 00, counter 1.
RFC_BLOCK_WORDS = [
    0xE4E7F110, 0x15593BD1, 0x1FDD0F50, 0xC47120A3,
    0xC7F4D1C7, 0x0368C033, 0x9AAA2204, 0x4E6CD4C3,
    0x466482D2, 0x09AA9F07, 0x05D7C214, 0xA2028BD9,
    0xD19C12B5, 0xB94E16DE, 0xE883D0CB, 0x4E3C50A2,
]
# RFC 8439, appendix A.1, test vectors #1 (counter 0) and #2 (counter 1): zero key and nonce.
RFC_ZERO_KEY_BLOCKS = bytes.fromhex(
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
    "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"
)


def _words(values: list[int], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64, device=device)


def test_block_function_matches_rfc_8439_section_2_3_2(device):
    key_words = _words([int.from_bytes(bytes(range(i, i + 4)), "little") for i in range(0, 32, 4)], device)
    nonce_words = _words([0x09000000, 0x4A000000, 0x00000000], device)
    out = chacha20_block(key_words, _words([1], device), nonce_words)
    assert out.shape == (1, 16)
    assert out.device == device
    assert out[0].tolist() == RFC_BLOCK_WORDS


def test_block_function_is_vectorised_over_counters(device):
    key_words = _words(list(range(8)), device)
    nonce_words = _words([5, 6, 7], device)
    together = chacha20_block(key_words, _words([0, 1, 2**32 - 1], device), nonce_words)
    for row, counter in enumerate([0, 1, 2**32 - 1]):
        alone = chacha20_block(key_words, _words([counter], device), nonce_words)
        assert torch.equal(together[row], alone[0])


def test_keystream_matches_rfc_8439_appendix_a1(device):
    stream = chacha20_keystream(Key(bytes(32)), 128, device=device)
    assert stream[:8].tolist() == [0x76, 0xB8, 0xE0, 0xAD, 0xA0, 0xF1, 0x3D, 0x90]
    assert bytes(stream.cpu().tolist()) == RFC_ZERO_KEY_BLOCKS


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("nonce", [0, 1, 2**64 + 3, 2**96 - 1])
@pytest.mark.parametrize("n_bytes", [0, 1, 63, 64, 65, 1000, 4097])
def test_keystream_equals_cryptography(device, seed, nonce, n_bytes):
    key = Key.from_seed(seed)
    ours = chacha20_keystream(key, n_bytes, nonce, device=device)
    assert ours.dtype == torch.uint8
    assert ours.shape == (n_bytes,)
    assert ours.device == device
    assert ours.cpu().numpy().tobytes() == keystream_bytes(key, n_bytes, nonce).tobytes()


def test_long_keystream_across_chunks_equals_cryptography(device):
    key = Key.from_seed(7).derive("long")
    n_bytes = 2_500_003  # over 1 MB, not a multiple of 64, spans more than one CPU chunk
    ours = chacha20_keystream(key, n_bytes, nonce=9, device=device)
    assert ours.cpu().numpy().tobytes() == keystream_bytes(key, n_bytes, nonce=9).tobytes()


def test_keystream_rejects_bad_arguments():
    key = Key.from_seed(0)
    with pytest.raises(TypeError, match="imgleak Key"):
        chacha20_keystream(b"\x00" * 32, 16)
    with pytest.raises(ValueError, match="n_bytes"):
        chacha20_keystream(key, -1)
    with pytest.raises(ValueError, match="n_bytes"):
        chacha20_keystream(key, 1.5)
    with pytest.raises(ValueError, match="nonce"):
        chacha20_keystream(key, 16, nonce=2**96)
    with pytest.raises(ValueError, match="device"):
        chacha20_keystream(key, 16, device="nonsense")


@pytest.mark.parametrize("block", [0, 1, 77])
@pytest.mark.parametrize("nonce", [0, 2**64 + 3])
def test_encryptor_continues_the_stream_from_any_block(block, nonce):
    key = Key.from_seed(4)
    reference = keystream_bytes(key, 64 * block + 1000, nonce)[64 * block:]
    encryptor = chacha20_encryptor(key, block, nonce)
    stream = np.zeros(1000, np.uint8)
    encryptor.update_into(stream[:333], stream[:333])  # in place, in uneven pieces
    encryptor.update_into(stream[333:], stream[333:])
    assert stream.tobytes() == reference.tobytes()
    data = np.arange(1000, dtype=np.int64).astype(np.uint8)
    out = np.empty_like(data)
    chacha20_encryptor(key, block, nonce).update_into(data, out)
    assert np.array_equal(out, data ^ reference)


def test_encryptor_works_in_place_beyond_its_scratch_buffer():
    # cryptography >= 51 refuses overlapping buffers: in-place work goes through a bounded buffer
    key = Key.from_seed(5)
    size = 3 * 2**20 + 77  # several scratch buffers (1 MiB each) and a remainder
    data = np.arange(size, dtype=np.int64).astype(np.uint8)
    expected = data ^ keystream_bytes(key, size)
    chacha20_encryptor(key).update_into(data, data)
    assert np.array_equal(data, expected)


def test_encryptor_refuses_partly_overlapping_buffers():
    buffer = np.zeros(100, np.uint8)
    with pytest.raises(ValueError, match="overlaps"):
        chacha20_encryptor(Key.from_seed(0)).update_into(buffer[:50], buffer[10:60])
    with pytest.raises(ValueError, match="length"):
        chacha20_encryptor(Key.from_seed(0)).update_into(buffer[:50], buffer[50:99])


def test_encryptor_rejects_bad_arguments():
    key = Key.from_seed(0)
    with pytest.raises(TypeError, match="imgleak Key"):
        chacha20_encryptor(b"\x00" * 32)
    with pytest.raises(ValueError, match="block"):
        chacha20_encryptor(key, -1)
    with pytest.raises(ValueError, match="block"):
        chacha20_encryptor(key, 2**32)
    with pytest.raises(ValueError, match="nonce"):
        chacha20_encryptor(key, nonce=2**96)


def test_first_block_starts_the_stream_later(device):
    key = Key.from_seed(3)
    full = chacha20_keystream(key, 64 * 7, device=device)
    assert torch.equal(chacha20_keystream(key, 100, device=device, first_block=2), full[128:228])
    with pytest.raises(ValueError, match="first_block must be a non-negative int"):
        chacha20_keystream(key, 10, first_block=-1)


@pytest.mark.parametrize(("args", "error", "message"), [
    ((np.zeros(8), torch.tensor([0]), torch.zeros(3, dtype=torch.int64)), TypeError, "key_words must be an integer torch.Tensor"),
    ((torch.zeros(8), torch.tensor([0]), torch.zeros(3, dtype=torch.int64)), TypeError, "key_words must be an integer torch.Tensor of 32-bit words, got a torch.float32 tensor"),
    ((torch.zeros(7, dtype=torch.int64), torch.tensor([0]), torch.zeros(3, dtype=torch.int64)), ValueError, "key_words must hold 8 words, got 7"),
    ((torch.zeros(8, dtype=torch.int64), torch.tensor([0.5]), torch.zeros(3, dtype=torch.int64)), TypeError, "counters must be an integer torch.Tensor"),
    ((torch.zeros(8, dtype=torch.int64), 0, torch.zeros(3, dtype=torch.int64)), TypeError, "counters must be an integer torch.Tensor"),
    ((torch.zeros(8, dtype=torch.int64), torch.tensor([0]), torch.zeros(4, dtype=torch.int64)), ValueError, "nonce_words must hold 3 words, got 4"),
])
def test_block_function_refuses_words_that_are_not_integer_tensors(args, error, message):
    with pytest.raises(error, match=message):
        chacha20_block(*args)
