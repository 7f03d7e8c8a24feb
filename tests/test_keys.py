"""Tests for imgleak.keys: keys, ChaCha20 keystreams, bit statistics and torch generators."""

from __future__ import annotations

import dataclasses
import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.keys import (
    KEY_BYTES,
    NONCE_BYTES,
    BitBalance,
    Key,
    bit_balance,
    keystream_bits,
    keystream_bytes,
    torch_generator,
)

# --------------------------------------------------------------------------------------------
# Reference values
# --------------------------------------------------------------------------------------------

# RFC 8439 Appendix A.1, test vector #1: all-zero key, all-zero nonce, block counter 0.
RFC8439_A1_TV1 = bytes.fromhex(
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
)

# RFC 8439 section 2.3.2: key 00..1f, nonce 00:00:00:09:00:00:00:4a:00:00:00:00, counter 1.
RFC8439_KEY = bytes(range(32))
RFC8439_232_NONCE = bytes.fromhex("000000090000004a00000000")
RFC8439_232_BLOCK = bytes.fromhex(
    "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
    "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
)

# RFC 8439 section 2.4.2: same key, nonce 00:00:00:00:00:00:00:4a:00:00:00:00, counter 1.
RFC8439_242_NONCE = bytes.fromhex("000000000000004a00000000")
RFC8439_242_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
    b"the future, sunscreen would be it."
)
RFC8439_242_CIPHERTEXT = bytes.fromhex(
    "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
    "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
    "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
    "5af90bbf74a35be6b40b8eedf2785e42874d"
)


def _nonce_int(nonce: bytes) -> int:
    """The integer ``keystream_bytes`` takes for a 12-byte RFC nonce (little-endian)."""
    return int.from_bytes(nonce, "little")


def _reference_keystream(material: bytes, n: int, nonce: int, counter: int = 0) -> bytes:
    """ChaCha20 keystream straight from ``cryptography`` (RFC 8439 layout, zeros encrypted)."""
    full_nonce = counter.to_bytes(4, "little") + nonce.to_bytes(NONCE_BYTES, "little")
    encryptor = Cipher(algorithms.ChaCha20(material, full_nonce), mode=None).encryptor()
    return encryptor.update(bytes(n))


# --------------------------------------------------------------------------------------------
# Key construction
# --------------------------------------------------------------------------------------------


class TestKeyConstruction:
    def test_from_seed_is_deterministic(self):
        assert Key.from_seed(7) == Key.from_seed(7)
        assert Key.from_seed(7).material == Key.from_seed(7).material

    def test_from_seed_material_is_32_bytes(self):
        key = Key.from_seed(123)
        assert isinstance(key.material, bytes)
        assert len(key.material) == KEY_BYTES == 32

    def test_different_seeds_give_different_keys(self):
        materials = {Key.from_seed(s).material for s in range(-50, 50)}
        assert len(materials) == 100

    def test_from_seed_accepts_numpy_integers(self):
        assert Key.from_seed(np.int64(42)) == Key.from_seed(42)
        assert Key.from_seed(np.uint8(42)) == Key.from_seed(42)

    def test_negative_and_positive_seeds_differ(self):
        assert Key.from_seed(-1) != Key.from_seed(1)

    def test_huge_seed_is_accepted(self):
        key = Key.from_seed(2**200)
        assert len(key.material) == KEY_BYTES
        assert key != Key.from_seed(2**200 + 1)

    @pytest.mark.parametrize("seed", ["3", True, False, 3.0, None, b"3", [3]])
    def test_from_seed_rejects_non_integers(self, seed):
        with pytest.raises(TypeError):
            Key.from_seed(seed)

    def test_generate_gives_distinct_32_byte_keys(self):
        keys = [Key.generate() for _ in range(20)]
        assert all(isinstance(k.material, bytes) and len(k.material) == KEY_BYTES for k in keys)
        assert len({k.material for k in keys}) == len(keys)

    def test_generated_key_is_not_a_seeded_key(self):
        generated = Key.generate()
        assert generated not in {Key.from_seed(s) for s in range(10)}

    @pytest.mark.parametrize(
        "material",
        [b"short", b"", bytes(31), bytes(33), bytearray(32), "a" * 32, None, 12345, list(range(32))],
    )
    def test_bad_material_raises(self, material):
        with pytest.raises(ValueError):
            Key(material)

    def test_exactly_32_bytes_is_accepted(self):
        assert Key(bytes(32)).material == bytes(32)

    def test_key_is_frozen_and_hashable(self):
        key = Key.from_seed(1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            key.material = bytes(32)  # type: ignore[misc]
        assert {key, Key.from_seed(1), Key.from_seed(2)} == {Key.from_seed(1), Key.from_seed(2)}


class TestHex:
    @pytest.mark.parametrize("key", [Key.from_seed(0), Key.from_seed(99), Key.generate(), Key(bytes(32))])
    def test_round_trip(self, key):
        text = key.hex()
        assert len(text) == 2 * KEY_BYTES
        assert all(c in "0123456789abcdef" for c in text)
        assert Key.from_hex(text) == key

    def test_hex_is_material_hex(self):
        key = Key(bytes(range(32)))
        assert key.hex() == bytes(range(32)).hex()

    def test_from_hex_accepts_upper_case(self):
        key = Key.from_seed(5)
        assert Key.from_hex(key.hex().upper()) == key

    @pytest.mark.parametrize(
        "text",
        [
            "zz",
            "0" * 63,  # odd number of digits
            "g" * 64,  # not hex
            "00" * 31,  # valid hex, too short
            "00" * 33,  # valid hex, too long
            "",
            None,
            12,
        ],
    )
    def test_from_hex_rejects_bad_text(self, text):
        with pytest.raises(ValueError):
            Key.from_hex(text)

    def test_repr_hides_the_secret(self):
        key = Key.from_seed(2024)
        text = repr(key)
        assert key.hex() not in text
        # Not even a long stretch of it.
        assert key.hex()[:16] not in text
        assert key.fingerprint in text
        assert key.hex() not in str(key)
        assert key.hex() not in f"{key}"


    def test_fingerprint_is_short_stable_and_key_specific(self):
        a, b = Key.from_seed(1), Key.from_seed(2)
        assert len(a.fingerprint) == 8
        assert a.fingerprint == Key.from_seed(1).fingerprint
        assert a.fingerprint != b.fingerprint
        int(a.fingerprint, 16)  # hex digits


class TestDerive:
    def test_deterministic(self):
        key = Key.from_seed(3)
        assert key.derive("selective") == key.derive("selective")
        assert Key.from_seed(3).derive("selective") == key.derive("selective")

    def test_sub_key_differs_from_parent(self):
        key = Key.from_seed(3)
        assert key.derive("selective") != key

    def test_different_purposes_differ(self):
        key = Key.from_seed(3)
        purposes = ["selective", "rvt/image-3", "rvt/image-4", "torch-generator", "a", "A"]
        derived = {key.derive(p).material for p in purposes}
        assert len(derived) == len(purposes)

    def test_different_parents_differ(self):
        assert Key.from_seed(1).derive("x") != Key.from_seed(2).derive("x")

    def test_derived_is_a_valid_key(self):
        sub = Key.from_seed(0).derive("purpose")
        assert isinstance(sub, Key)
        assert len(sub.material) == KEY_BYTES

    def test_derivation_chain_is_not_commutative(self):
        key = Key.from_seed(8)
        assert key.derive("a").derive("b") != key.derive("b").derive("a")

    @pytest.mark.parametrize("purpose", ["", None, 3, b"selective"])
    def test_bad_purpose_raises(self, purpose):
        with pytest.raises(ValueError):
            Key.from_seed(0).derive(purpose)


# --------------------------------------------------------------------------------------------
# Byte keystreams
# --------------------------------------------------------------------------------------------


class TestKeystreamBytes:
    def test_length_and_dtype(self):
        stream = keystream_bytes(Key.from_seed(0), 1000)
        assert isinstance(stream, np.ndarray)
        assert stream.dtype == np.uint8
        assert stream.shape == (1000,)

    def test_result_is_writable_copy(self):
        stream = keystream_bytes(Key.from_seed(0), 16)
        stream[0] ^= 1  # would raise on a read-only buffer view
        assert stream[0] != keystream_bytes(Key.from_seed(0), 16)[0]

    def test_deterministic(self):
        key = Key.from_seed(11)
        np.testing.assert_array_equal(keystream_bytes(key, 500, nonce=3), keystream_bytes(key, 500, nonce=3))

    def test_prefix_property(self):
        key = Key.from_seed(11)
        long = keystream_bytes(key, 1000)
        short = keystream_bytes(key, 100)
        np.testing.assert_array_equal(long[:100], short)

    @pytest.mark.parametrize("n", [1, 63, 64, 65, 127, 128, 129])
    def test_prefix_across_block_boundaries(self, n):
        key = Key.from_seed(4)
        np.testing.assert_array_equal(keystream_bytes(key, 300)[:n], keystream_bytes(key, n))

    def test_different_nonces_differ(self):
        key = Key.from_seed(11)
        a = keystream_bytes(key, 64, nonce=0)
        b = keystream_bytes(key, 64, nonce=1)
        assert not np.array_equal(a, b)
        # and they are not trivially related (mostly different bytes)
        assert np.count_nonzero(a != b) > 50

    def test_different_keys_differ(self):
        a = keystream_bytes(Key.from_seed(1), 64)
        b = keystream_bytes(Key.from_seed(2), 64)
        assert np.count_nonzero(a != b) > 50

    def test_is_not_all_zero(self):
        assert keystream_bytes(Key(bytes(32)), 256).any()

    def test_matches_cryptography_chacha20(self):
        key = Key.from_seed(12345)
        for nonce in (0, 1, 0x4A, 2**64 + 7, 2 ** (8 * NONCE_BYTES) - 1):
            expected = _reference_keystream(key.material, 777, nonce)
            assert keystream_bytes(key, 777, nonce=nonce).tobytes() == expected

    @settings(max_examples=40, deadline=None)
    @given(
        seed=st.integers(min_value=-(2**70), max_value=2**70),
        n=st.integers(min_value=0, max_value=400),
        nonce=st.integers(min_value=0, max_value=2 ** (8 * NONCE_BYTES) - 1),
    )
    def test_matches_cryptography_property(self, seed, n, nonce):
        key = Key.from_seed(seed)
        assert keystream_bytes(key, n, nonce=nonce).tobytes() == _reference_keystream(key.material, n, nonce)

    def test_rfc8439_appendix_a1_vector_1(self):
        stream = keystream_bytes(Key(bytes(32)), 64, nonce=0)
        assert stream.tobytes() == RFC8439_A1_TV1

    def test_rfc8439_section_2_3_2_block(self):
        # The keystream starts at block counter 0, so counter 1 is bytes 64..127.
        stream = keystream_bytes(Key(RFC8439_KEY), 128, nonce=_nonce_int(RFC8439_232_NONCE))
        assert stream[64:128].tobytes() == RFC8439_232_BLOCK

    def test_rfc8439_section_2_4_2_encryption(self):
        n = len(RFC8439_242_PLAINTEXT)
        stream = keystream_bytes(Key(RFC8439_KEY), 64 + n, nonce=_nonce_int(RFC8439_242_NONCE))
        plaintext = np.frombuffer(RFC8439_242_PLAINTEXT, dtype=np.uint8)
        ciphertext = (stream[64:] ^ plaintext).tobytes()
        assert ciphertext == RFC8439_242_CIPHERTEXT

    def test_zero_length(self):
        stream = keystream_bytes(Key.from_seed(0), 0)
        assert stream.shape == (0,)
        assert stream.dtype == np.uint8

    @pytest.mark.parametrize("n", [-1, -100, 1.5, "10", True, None])
    def test_bad_length_raises(self, n):
        with pytest.raises(ValueError):
            keystream_bytes(Key.from_seed(0), n)

    def test_numpy_integer_length_is_accepted(self):
        assert keystream_bytes(Key.from_seed(0), np.int64(10)).shape == (10,)

    @pytest.mark.parametrize("nonce", [-1, 2 ** (8 * NONCE_BYTES), 2**200, 0.0, True])
    def test_bad_nonce_raises(self, nonce):
        with pytest.raises(ValueError):
            keystream_bytes(Key.from_seed(0), 8, nonce=nonce)

    @pytest.mark.parametrize("key", [bytes(32), "key", None, 3])
    def test_non_key_raises(self, key):
        with pytest.raises(TypeError):
            keystream_bytes(key, 8)


# --------------------------------------------------------------------------------------------
# Bit keystreams
# --------------------------------------------------------------------------------------------


class TestKeystreamBits:
    @pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 13, 64, 1001])
    def test_length_values_and_unpackbits(self, n):
        key = Key.from_seed(21)
        bits = keystream_bits(key, n, nonce=5)
        assert bits.shape == (n,)
        assert bits.dtype == np.uint8
        assert set(np.unique(bits).tolist()) <= {0, 1}
        expected = np.unpackbits(keystream_bytes(key, (n + 7) // 8, nonce=5))[:n]
        np.testing.assert_array_equal(bits, expected)

    def test_most_significant_bit_first(self):
        key = Key(bytes(32))
        first_byte = int(keystream_bytes(key, 1)[0])  # 0x76 = 0111 0110
        assert first_byte == 0x76
        np.testing.assert_array_equal(keystream_bits(key, 8), [0, 1, 1, 1, 0, 1, 1, 0])

    def test_deterministic_and_prefix(self):
        key = Key.from_seed(2)
        np.testing.assert_array_equal(keystream_bits(key, 500), keystream_bits(key, 500))
        np.testing.assert_array_equal(keystream_bits(key, 1000)[:123], keystream_bits(key, 123))

    def test_nonce_matters(self):
        key = Key.from_seed(2)
        assert not np.array_equal(keystream_bits(key, 256, nonce=0), keystream_bits(key, 256, nonce=1))

    def test_contains_both_values(self):
        bits = keystream_bits(Key.from_seed(2), 256)
        assert 0 < bits.sum() < 256

    @pytest.mark.parametrize("n", [-1, 2.0, "8"])
    def test_bad_length_raises(self, n):
        with pytest.raises(ValueError):
            keystream_bits(Key.from_seed(0), n)


# --------------------------------------------------------------------------------------------
# Bit balance
# --------------------------------------------------------------------------------------------


class TestBitBalance:
    def test_long_keystream_is_balanced(self):
        stream = keystream_bytes(Key.from_seed(2024), 1_000_000)
        balance = bit_balance(stream)
        assert isinstance(balance, BitBalance)
        assert balance.n_bytes == 1_000_000
        assert abs(balance.z_score) < 4
        assert abs(balance.ones_fraction - 0.5) < 0.001
        assert balance.ones_by_position.shape == (8,)
        assert np.all(np.abs(balance.ones_by_position - 0.5) < 0.01)

    def test_zeros_are_maximally_unbalanced(self):
        n = 10_000
        balance = bit_balance(np.zeros(n, dtype=np.uint8))
        assert balance.n_bytes == n
        assert balance.ones_fraction == 0.0
        np.testing.assert_array_equal(balance.ones_by_position, np.zeros(8))
        # (0 - 8n/2) / sqrt(8n/4) = -sqrt(8n)
        assert balance.z_score == pytest.approx(-np.sqrt(8 * n))
        assert balance.z_score < -100

    def test_all_ones(self):
        balance = bit_balance(np.full(100, 0xFF, dtype=np.uint8))
        assert balance.ones_fraction == 1.0
        assert balance.z_score == pytest.approx(np.sqrt(800))

    def test_position_zero_is_most_significant_bit(self):
        balance = bit_balance(np.full(50, 0x80, dtype=np.uint8))
        np.testing.assert_array_equal(balance.ones_by_position, [1, 0, 0, 0, 0, 0, 0, 0])
        assert balance.ones_fraction == pytest.approx(1 / 8)
        balance = bit_balance(np.full(50, 0x01, dtype=np.uint8))
        np.testing.assert_array_equal(balance.ones_by_position, [0, 0, 0, 0, 0, 0, 0, 1])

    def test_exactly_balanced_stream(self):
        balance = bit_balance(np.array([0x0F, 0xF0, 0xAA, 0x55], dtype=np.uint8))
        assert balance.ones_fraction == 0.5
        assert balance.z_score == 0
        np.testing.assert_allclose(balance.ones_by_position, 0.5)

    def test_tolerance(self):
        balance = bit_balance(np.zeros(10_000, dtype=np.uint8))
        assert balance.tolerance() == pytest.approx(2.576 * 0.5 / 100)
        assert balance.tolerance(z=2.0) == pytest.approx(0.01)
        # A longer stream gives a tighter band.
        assert bit_balance(np.zeros(40_000, dtype=np.uint8)).tolerance() == pytest.approx(balance.tolerance() / 2)

    def test_accepts_lists_of_uint8_via_asarray(self):
        balance = bit_balance(np.asarray([255, 0], dtype=np.uint8))
        assert balance.ones_fraction == 0.5

    @pytest.mark.parametrize(
        "stream",
        [
            np.zeros(10, dtype=np.float64),
            np.zeros(10, dtype=np.int64),
            np.zeros(10, dtype=bool),
            np.zeros(0, dtype=np.uint8),
            np.zeros((4, 4), dtype=np.uint8),
            np.uint8(3),  # 0-d
            [1, 2, 3],  # ints, not uint8
        ],
    )
    def test_bad_input_raises(self, stream):
        with pytest.raises(ValueError):
            bit_balance(stream)


# --------------------------------------------------------------------------------------------
# torch generators
# --------------------------------------------------------------------------------------------


class TestTorchGenerator:
    def test_same_key_same_permutation(self):
        a = torch.randperm(100, generator=torch_generator(Key.from_seed(1)))
        b = torch.randperm(100, generator=torch_generator(Key.from_seed(1)))
        assert torch.equal(a, b)

    def test_result_is_a_permutation(self):
        perm = torch.randperm(100, generator=torch_generator(Key.from_seed(1)))
        assert torch.equal(torch.sort(perm).values, torch.arange(100))

    def test_different_keys_different_permutations(self):
        perms = {
            tuple(torch.randperm(100, generator=torch_generator(Key.from_seed(s))).tolist()) for s in range(10)
        }
        assert len(perms) == 10

    def test_not_affected_by_global_seed(self):
        torch.manual_seed(0)
        a = torch.randperm(100, generator=torch_generator(Key.from_seed(5)))
        torch.manual_seed(1)
        b = torch.randperm(100, generator=torch_generator(Key.from_seed(5)))
        assert torch.equal(a, b)

    def test_seed_is_derived_63_bit_value(self):
        key = Key.from_seed(9)
        g = torch_generator(key)
        expected = int.from_bytes(key.derive("torch-generator").material[:8], "little") >> 1
        assert g.initial_seed() == expected
        assert 0 <= g.initial_seed() < 2**63

    def test_generator_advances(self):
        g = torch_generator(Key.from_seed(3))
        first = torch.randperm(100, generator=g)
        second = torch.randperm(100, generator=g)
        assert not torch.equal(first, second)

    def test_on_device(self, device):
        key = Key.from_seed(17)
        g = torch_generator(key, device=device)
        assert g.device.type == device.type
        perm = torch.randperm(100, generator=g, device=device)
        assert perm.device.type == device.type
        assert torch.equal(torch.sort(perm).values.cpu(), torch.arange(100))
        again = torch.randperm(100, generator=torch_generator(key, device=device), device=device)
        assert torch.equal(perm, again)
        other = torch.randperm(100, generator=torch_generator(Key.from_seed(18), device=device), device=device)
        assert not torch.equal(perm, other)

    def test_device_as_string(self, device):
        g = torch_generator(Key.from_seed(1), device=str(device))
        assert g.device.type == device.type

    @pytest.mark.parametrize("key", [bytes(32), 1, None])
    def test_non_key_raises(self, key):
        with pytest.raises(TypeError):
            torch_generator(key)


class TestStreamLimitsAndDevices:
    @pytest.mark.parametrize("stream", [keystream_bytes, keystream_bits])
    def test_longer_than_chacha20_can_make_is_refused(self, stream):
        with pytest.raises(ValueError, match=r"n must be at most \d+ (bytes|bits) \(2\*\*32 ChaCha20 blocks"):
            stream(Key.from_seed(0), 10**30)

    def test_generator_device_auto_and_bad_devices(self):
        key = Key.from_seed(0)
        assert torch_generator(key, "auto").device.type == ("cuda" if torch.cuda.is_available() else "cpu")
        assert torch.equal(torch.randperm(8, generator=torch_generator(key, torch.device("cpu"))),
                           torch.randperm(8, generator=torch_generator(key)))
        for device in ("gpu", -1, None):
            with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
                torch_generator(key, device)

    @pytest.mark.parametrize("z", [0, -1.0, float("nan"), "2", True])
    def test_tolerance_needs_a_positive_z(self, z):
        with pytest.raises(ValueError, match="z must be a positive finite number"):
            bit_balance(np.zeros(8, dtype=np.uint8)).tolerance(z)
