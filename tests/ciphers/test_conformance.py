"""Every registered scheme through the same checks (kornia's BaseTester idea, one place).

A scheme is tested with its defaults (``ciphers.get(name)``) and with the settings listed in
``SETTINGS``; a scheme registered later gets all of this without a line here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers import NotInvertibleError

SETTINGS: dict[str, list[dict]] = {  # settings beyond the defaults that change what the checks exercise
    "selective": [{"bits": 1}, {"bits": 8}],
    "rvt": [{"mode": "faithful"}],
    "permutation": [{"per_image": False}],
    "pixelwise": [{"mode": "different"}],
    "etc": [{"mode": "different", "block": 8}],
}
CASES = [(name, params) for name in ciphers.available() for params in [{}] + SETTINGS.get(name, [])]
SHAPE = (5, 3, 32, 32)  # sides that every registered scheme accepts (multiples of 16)
KEYLESS = {"identity"}  # schemes with nothing to key: any key gives the same output


def _case_id(case: tuple[str, dict]) -> str:
    name, params = case
    return name + "".join(f"-{k}={v}" for k, v in params.items())


@pytest.fixture(params=CASES, ids=[_case_id(c) for c in CASES])
def scheme(request):
    name, params = request.param
    return ciphers.get(name, **params)


def _images(shape, seed=0, device="cpu"):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


def test_smoke_interface(scheme):
    assert isinstance(scheme, ciphers.Cipher)
    assert scheme.name in ciphers.available()
    assert isinstance(scheme.invertible, bool) and isinstance(scheme.per_image_keys, bool)
    assert isinstance(scheme.describe(), str) and scheme.describe()
    bits = scheme.key_space_log2(SHAPE[1:])
    assert isinstance(bits, float) and bits >= 0


def test_shape_dtype_device_kept(scheme, device):
    x = _images(SHAPE, device=device)
    key = scheme.make_key(0, SHAPE[1:])
    y = scheme.encrypt(x, key)
    assert (y.shape, y.dtype, y.device) == (x.shape, torch.uint8, x.device)
    single = scheme.encrypt(x[2], key, first_index=2)
    assert single.shape == x.shape[1:] and torch.equal(single, y[2])


def test_exact_round_trip_or_named_refusal(scheme, device):
    x = _images(SHAPE, device=device)
    key = scheme.make_key(0, SHAPE[1:])
    y = scheme.encrypt(x, key, first_index=3)
    if scheme.invertible:
        assert torch.equal(scheme.decrypt(y, key, first_index=3), x)
    else:
        with pytest.raises(NotInvertibleError, match="not invertible|cannot be decrypted"):
            scheme.decrypt(y, key)


def test_same_key_same_output_other_key_other_output(scheme, device):
    x = _images(SHAPE, device=device)
    y = scheme.encrypt(x, scheme.make_key(0, SHAPE[1:]))
    assert torch.equal(scheme.encrypt(x, scheme.make_key(0, SHAPE[1:])), y)
    other = scheme.encrypt(x, scheme.make_key(1, SHAPE[1:]))
    assert torch.equal(other, y) == (scheme.name in KEYLESS)


def test_chunks_with_first_index_equal_the_whole_batch(scheme, device):
    x = _images(SHAPE, device=device)
    key = scheme.make_key(0, SHAPE[1:])
    whole = scheme.encrypt(x, key, first_index=7)
    chunks = [scheme.encrypt(x[s:s + 2], key, first_index=7 + s) for s in range(0, SHAPE[0], 2)]
    assert torch.equal(torch.cat(chunks), whole)
    numpy_index = scheme.encrypt(x[1:3], key, first_index=np.int64(8))
    assert torch.equal(numpy_index, whole[1:3])
    if scheme.per_image_keys:
        assert not torch.equal(scheme.encrypt(x[:1], key, first_index=0), whole[:1])


def test_bound_key_encrypts_in_chunks_like_one_call(scheme):
    x = _images(SHAPE)
    bound = ciphers.KeyedCipher(scheme, scheme.make_key(0, SHAPE[1:]))
    assert bound.label == scheme.describe()
    assert torch.equal(bound.encrypt(x, first_index=4, chunk=2), scheme.encrypt(x, bound.key, first_index=4))


def test_empty_batch(scheme, device):
    x = _images((0, *SHAPE[1:]), device=device)
    y = scheme.encrypt(x, scheme.make_key(0, SHAPE[1:]))
    assert y.shape == x.shape and y.dtype == torch.uint8 and y.device == x.device


@pytest.mark.parametrize("size", [(1, 1), (7, 9), (6, 10), (33, 31)])
def test_small_odd_and_non_divisible_sizes(scheme, size):
    shape = (2, 3, *size)
    x = _images(shape)
    key = scheme.make_key(0, shape[1:])
    try:
        y = scheme.encrypt(x, key)
    except ValueError as err:  # a size the scheme cannot take: the message says which size it needs
        assert any(word in str(err) for word in ("multiple", "at least", "smaller", "needs")), str(err)
        return
    assert y.shape == x.shape
    if scheme.invertible:
        assert torch.equal(scheme.decrypt(y, key), x)


def test_memory_layouts_give_the_same_result(scheme, device):
    x = _images(SHAPE, device=device)
    key = scheme.make_key(0, SHAPE[1:])
    expected = scheme.encrypt(x, key)
    channels_last = x.to(memory_format=torch.channels_last)
    transposed = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    sliced = _images((5, 3, 40, 48), device=device)
    sliced[:, :, 4:36, 8:40] = x
    for view in (channels_last, transposed, sliced[:, :, 4:36, 8:40]):
        assert not view.is_contiguous()
        assert torch.equal(scheme.encrypt(view, key), expected)
    if scheme.invertible:
        assert torch.equal(scheme.decrypt(expected.to(memory_format=torch.channels_last), key), x)


def test_input_is_never_written(scheme):
    with torch.inference_mode():  # inference tensors cannot be changed in place outside this mode
        x = _images(SHAPE)
    before = x.clone()
    key = scheme.make_key(0, SHAPE[1:])
    y = scheme.encrypt(x, key)
    assert torch.equal(x, before)
    if scheme.invertible:
        assert torch.equal(scheme.decrypt(y, key), before)


def test_wrong_dtype_rank_key_and_index_are_named(scheme):
    x = _images(SHAPE)
    key = scheme.make_key(0, SHAPE[1:])
    with pytest.raises(TypeError, match="x must have dtype torch.uint8"):
        scheme.encrypt(x.float(), key)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        scheme.encrypt(x.numpy(), key)
    for bad_rank in (x[0, 0], x[None]):
        with pytest.raises(ValueError, match=r"x must be shaped \(C, H, W\) or \(N, C, H, W\)"):
            scheme.encrypt(bad_rank, key)
    with pytest.raises(ValueError, match="x has no channels"):
        scheme.encrypt(x[:, :0], key)
    for bad_index in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="first_index must be a non-negative int"):
            scheme.encrypt(x, key, first_index=bad_index)
    if scheme.name not in KEYLESS:
        for bad_key in ("abc", [1, 2], 7, None):
            with pytest.raises(TypeError, match="key must be"):
                scheme.encrypt(x, bad_key)


@pytest.mark.parametrize("shape", ["abc", (32,), (32, 32), (0, 3, 4, 4), (3, 4.0, 4), (1, 2, 3, 4, 5)])
def test_key_space_of_a_bad_shape_is_named(scheme, shape):
    with pytest.raises(ValueError, match="shape must be"):
        scheme.key_space_log2(shape)


def test_registry_refuses_what_breaks_the_interface():
    class NoName:
        pass

    with pytest.raises(ValueError, match="no registered name"):
        ciphers.register(NoName)
    with pytest.raises(ValueError, match="already registered"):
        ciphers.register(type(ciphers.get("identity")))

    class Half:
        name = "half"

        def encrypt(self, x, key):
            return x

    with pytest.raises(TypeError, match="does not follow the imgleak Cipher interface"):
        ciphers.register(Half)
    assert "half" not in ciphers.available()


def test_only_registered_names_are_accepted():
    with pytest.raises(ValueError, match="unknown cipher 'tanaka'"):  # the paper's name is a variant's paper_row
        ciphers.get("tanaka")
    with pytest.raises(TypeError, match="name must be a str"):
        ciphers.get(["rvt"])
