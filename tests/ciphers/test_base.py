"""The Cipher interface's helpers: a cipher bound to its key."""

from __future__ import annotations

import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers.base import KeyedCipher
from imgleak.ciphers.selective import SelectiveEncryption


def test_keyed_cipher_round_trip_in_chunks_equals_one_call():
    cipher = ciphers.get("selective", bits=3)
    bound = KeyedCipher(cipher, cipher.make_key(0))
    x = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(bound.encrypt(x, chunk=2), bound.encrypt(x))
    assert torch.equal(bound.decrypt(bound.encrypt(x, chunk=2), chunk=3), x)


def test_keyed_cipher_refuses_a_class_and_says_how_to_build_it():
    with pytest.raises(TypeError, match=r"cipher must be a cipher instance, got the class SelectiveEncryption: "
                                        r"build it first, e\.g\. SelectiveEncryption\(\)"):
        KeyedCipher(SelectiveEncryption, SelectiveEncryption().make_key(0))


def test_keyed_cipher_refuses_a_non_cipher():
    with pytest.raises(TypeError, match=r"cipher must follow the imgleak Cipher interface \(imgleak.ciphers.base.Cipher\), got int"):
        KeyedCipher(5, None)
