"""Key criteria: the key space in bits and the key sensitivity of the cipher images, and the
fingerprint that stands for a key in every report (key material is never written anywhere).

Key sensitivity is the share of cipher-image *bits* that change when one bit of the key changes;
a cryptographic cipher changes about half of them, so the value reported is ``|share − 50|`` in
percentage points (the identity control, which ignores its key, scores 50: it leaks the most).
Only an imgleak :class:`~imgleak.keys.Key` has bits to flip; other keys (a trained network, a
list of vortices) get NaN and a note, never a made-up number.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from scipy import stats

from .. import _checks
from ..ciphers.rvt import VortexKey
from ..keys import KEY_BYTES, Key
from .base import Context, Criterion, Measurement, Subject, check_cell
from .statistical import cipher_images

FINGERPRINT_DIGITS = 12
_BIT_COUNTS = torch.tensor([bin(value).count("1") for value in range(256)], dtype=torch.int64)


def fingerprint(key: Any) -> str:
    """A short, non-secret name for ``key``: the first 12 hex digits of a SHA-256 of its material
    (a :class:`Key`'s bytes, a ``VortexKey``'s JSON, a network's ``state_dict`` tensors — names,
    dtypes, shapes and bytes — or else the ``repr``).

    >>> fingerprint(Key.from_seed(0)) == hashlib.sha256(Key.from_seed(0).material).hexdigest()[:12]
    True
    >>> len(fingerprint(None)), fingerprint(Key.from_seed(0)) == fingerprint(Key.from_seed(1))
    (12, False)
    """
    digest = hashlib.sha256()
    if isinstance(key, Key):
        digest.update(key.material)
    elif isinstance(key, VortexKey):
        digest.update(key.to_json().encode())
    elif callable(getattr(key, "state_dict", None)):
        for name, tensor in sorted(key.state_dict().items()):
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(flat.view(torch.uint8).numpy().tobytes())
    else:
        digest.update(repr(key).encode())
    return digest.hexdigest()[:FINGERPRINT_DIGITS]


def flip_bit(key: Key, bit: int) -> Key:
    """``key`` with bit ``bit`` (0 = most significant bit of the first byte … 255) inverted.

    >>> key = Key(bytes(32))
    >>> flip_bit(key, 0).material[:2].hex(), flip_bit(key, 15).material[:2].hex()
    ('8000', '0001')
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    bit = _checks.non_negative_int(bit, "bit")
    if bit >= 8 * KEY_BYTES:
        raise ValueError(f"bit must be below {8 * KEY_BYTES} (a key has {8 * KEY_BYTES} bits), got {bit}")
    material = bytearray(key.material)
    material[bit // 8] ^= 0x80 >> (bit % 8)
    return Key(bytes(material))


def changed_bits(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share (%) of the bits of two uint8 tensors of one shape that differ.

    >>> changed_bits(torch.tensor([0, 255], dtype=torch.uint8), torch.tensor([15, 255], dtype=torch.uint8))
    25.0
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.dtype != torch.uint8 \
            or b.dtype != torch.uint8:
        raise TypeError("a and b must be uint8 tensors")
    if a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"a and b must be non-empty and of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    flips = _BIT_COUNTS.to(a.device)[torch.bitwise_xor(a, b.to(a.device)).long()].sum()
    return float(flips) / (8 * a.numel()) * 100


def key_space(subject: Subject, context: Context) -> list[Measurement]:
    """The scheme's key space in bits for the context's image shape (0 for identity and for keyless
    schemes; lower leaks more), capped at the 256 bits of the master :class:`Key` every key of an
    imgleak scheme is derived from: a pad as long as the image is still one of 2**256 pads. The
    key material the scheme's formula counts per image stays in the setting (``key_material_bits``).
    A user's function does not say its key space: NaN with a note (``empirical_key_space`` measures it).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> m = key_space(Subject("otp", ciphers.get("selective", bits=8)), context)[0]
    >>> m.value, m.setting["key_material_bits"]  # 8 bits x 48 samples of pad, from a 256-bit key
    (256.0, 384.0)
    """
    subject, context = check_cell(subject, context)
    shape = tuple(int(s) for s in context.images.shape[1:])
    material = float(subject.cipher.key_space_log2(shape))
    setting: dict[str, Any] = {"shape": list(shape), "key_material_bits": material, "master_key_bits": 8 * KEY_BYTES}
    if math.isnan(material):
        setting["note"] = "key space not declared by the scheme: see empirical_key_space"
    return [Measurement("key_space", min(material, 8 * KEY_BYTES) if not math.isnan(material) else math.nan, "bits",
                        "lower", setting)]


def key_sensitivity(subject: Subject, context: Context) -> list[Measurement]:
    """``|share − 50|`` (percentage points) where share is the % of cipher-image bits that change when
    one seeded-random bit of the key flips; NaN with a ``note`` for keys that are not a :class:`Key`.
    The setting holds what independent random images would give (``random_mean``, ``random_sd``).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> m = key_sensitivity(Subject("identity", ciphers.get("identity")), context)[0]
    >>> m.value, m.setting["share"]  # the key is ignored: no bit changes
    (50.0, 0.0)
    """
    subject, context = check_cell(subject, context)
    key = subject.key(context.seed, context)
    setting: dict[str, Any] = {"key": fingerprint(key), "ideal_share": 50.0}
    if not isinstance(key, Key):
        setting["note"] = (f"not applicable: the key of {subject.name!r} is a {type(key).__name__}, "
                           "not an imgleak Key with bits to flip")
        return [Measurement("key_sensitivity", math.nan, "percentage points from 50 %", "higher", setting)]
    generator = torch.Generator().manual_seed(_checks.integer(context.seed, "seed") % 2**64)
    bit = int(torch.randint(0, 8 * KEY_BYTES, (1,), generator=generator))
    first = cipher_images(subject, context, key)
    second = cipher_images(subject, context, flip_bit(key, bit))
    share, bits = changed_bits(first, second), 8 * int(first.numel())
    spread = 50 / math.sqrt(bits)  # share between independent random images: about normal, sd 50/sqrt(bits)
    setting.update({"share": share, "flipped_bit": bit, "bits_compared": bits,
                    "flipped_key": fingerprint(flip_bit(key, bit)),
                    "random_mean": math.sqrt(2 / math.pi) * spread, "random_sd": spread * math.sqrt(1 - 2 / math.pi)})
    changed = round(share / 100 * bits)  # under the null each bit changes with probability 1/2
    p_value = float(stats.binomtest(changed, bits, 0.5).pvalue)
    return [Measurement("key_sensitivity", abs(share - 50.0), "percentage points from 50 %", "higher", setting,
                        p_value=p_value)]


FAMILY = "key"
ADVERSARY = "key"  # the key and how the cipher depends on it

CRITERIA: dict[str, Criterion] = {"key_space": key_space, "key_sensitivity": key_sensitivity}
"""The key criteria, by cell name."""

__all__ = ["ADVERSARY", "FAMILY", "CRITERIA", "FINGERPRINT_DIGITS", "changed_bits", "fingerprint", "flip_bit", "key_sensitivity",
           "key_space"]
