"""The scorecard's schemes: every library scheme under its name, the controls, the learned keys
trained on the run's images, and a user's own scheme imported by name and checked before use."""

from __future__ import annotations

import sys
from dataclasses import replace
import textwrap

import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers import Cipher, TransformNet
from imgleak.scorecard.base import BUDGETS, Context
from imgleak.scorecard.key import fingerprint
from imgleak.scorecard.sources import ImageSource, make_context
from imgleak.scorecard.schemes import (CONTROLS, FunctionCipher, SchemeCheckError, check_scheme, learned_key,
                                       library_schemes, resolve)

NAMES = list(ciphers.variants())  # the table of variants, then every other registered cipher
KEYED = [name for name in NAMES if not ciphers.build(name).learned_key]


@pytest.fixture(scope="module")
def context():
    return make_context(ImageSource(), BUDGETS["quick"], seed=0, device="cpu")


def test_every_library_scheme_is_there_under_its_name():
    schemes = library_schemes()
    assert list(schemes) == NAMES
    assert NAMES[:2] == list(CONTROLS) == ["identity", "one_time_pad"]
    assert [name for name in NAMES if name not in KEYED] == ["tn_model", "tn_gan"]
    assert all(not schemes[name].trained_keys for name in KEYED)
    for name, subject in schemes.items():
        assert subject.name == name and isinstance(subject.cipher, Cipher)
    assert schemes["one_time_pad"].cipher == ciphers.get("selective", bits=8)
    assert [schemes[f"selective-{n}"].cipher.bits for n in range(1, 8)] == list(range(1, 8))
    assert schemes["rvt-faithful"].cipher.mode == "faithful" and schemes["rvt-invertible"].cipher.mode == "invertible"
    assert schemes["permutation-fixed"].cipher.per_image is False
    assert schemes["pixelwise-different"].cipher.mode == "different"


@pytest.mark.parametrize("name", KEYED)
def test_keyed_schemes_protect_the_budget_crops(name, context):
    subject = library_schemes()[name]
    key = subject.key(0, context)
    y = subject.cipher.encrypt(context.images, key)
    assert y.shape == context.images.shape and y.dtype == torch.uint8
    if name == "identity":
        assert torch.equal(y, context.images)
    else:
        assert not torch.equal(y, context.images)
    if subject.cipher.invertible:
        assert torch.equal(subject.cipher.decrypt(y, key), context.images)


def test_one_time_pad_flips_about_half_of_all_bits(context):
    subject = library_schemes()["one_time_pad"]
    y = subject.cipher.encrypt(context.images, subject.key(0, context))
    flipped = torch.bitwise_xor(y, context.images)
    share = float(torch.stack([(flipped >> b) & 1 for b in range(8)]).float().mean())
    assert abs(share - 0.5) < 0.01  # 98,304 bit samples: 5 sigma is 0.008


def test_tn_model_key_is_trained_on_the_crops_labelled_by_source(context):
    key = library_schemes()["tn_model"].key(0, context)
    assert isinstance(key, TransformNet) and key.name == "tn_model"
    assert key.settings["epochs"] == BUDGETS["quick"].tn_epochs and key.settings["seed"] == 0
    assert key.settings["num_classes"] == 4  # 4 crops from 4 different photos (crop i from photo i mod 11)
    assert key.settings["image_shape"] == [3, 32, 32]
    assert fingerprint(learned_key("tn_model", 0, context)) == fingerprint(key)  # seeded
    y = ciphers.get("tn_model").encrypt(context.images, key)
    assert y.shape == context.images.shape and y.dtype == torch.uint8


def test_tn_gan_key_is_trained(context):
    key = library_schemes()["tn_gan"].key(1, context)
    assert isinstance(key, TransformNet) and key.name == "tn_gan" and key.settings["seed"] == 1
    assert key.settings["epochs"] == BUDGETS["quick"].tn_epochs


# ------------------------------------------------------------------------------------ a user's scheme

USER_MODULE = '''
import torch
from imgleak.ciphers import CipherBase


def xor_key(images, key):
    """A fine scheme: XOR every byte with the key's first byte."""
    return images ^ key.material[0]


def wrong_shape(images, key):
    return images[..., :-1] ^ key.material[0]


def float_output(images, key):
    return images.float() / 255 + key.material[0]


def ignores_key(images, key):
    return 255 - images


def random_output(images, key):
    return torch.randint(0, 256, images.shape, dtype=torch.uint8)


def in_place(images, key):
    return images.bitwise_xor_(key.material[0])


def elsewhere(images, key):
    return torch.empty(images.shape, dtype=torch.uint8, device="meta")


def raises(images, key):
    raise RuntimeError("not today")


class Rotate(CipherBase):
    name = "rotate"

    def encrypt(self, x, key, *, first_index=0):
        return torch.roll(x, shifts=1 + key.material[0] % 7, dims=-1)

    def key_space_log2(self, shape):
        return 3.0


rotate = Rotate()
not_a_scheme = 42


class KeyFails(Rotate):
    def make_key(self, seed, shape=(3, 32, 32)):
        raise RuntimeError("no keys today")


class DescribeFails(Rotate):
    def describe(self):
        raise RuntimeError("nothing to say")
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_schemes.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_schemes", raising=False)
    return "my_schemes"


def test_a_user_function_runs_as_a_cipher(user_module, context):
    (subject,) = resolve([f"{user_module}:xor_key"])
    assert subject.name == "my_schemes:xor_key" and isinstance(subject.cipher, FunctionCipher)
    key = subject.key(0, context)
    assert torch.equal(subject.cipher.encrypt(context.images, key), context.images ^ key.material[0])
    assert subject.cipher.invertible is False


@pytest.mark.parametrize("attribute", ["Rotate", "rotate"])
def test_a_user_cipher_class_or_instance_is_used_as_it_is(user_module, attribute, context):
    (subject,) = resolve([f"{user_module}:{attribute}"])
    assert type(subject.cipher).__name__ == "Rotate"
    assert subject.cipher.key_space_log2((3, 32, 32)) == 3.0


@pytest.mark.parametrize("attribute,check", [
    ("wrong_shape", "shape"), ("float_output", "dtype"), ("ignores_key", "key"), ("random_output", "deterministic"),
    ("in_place", "input kept"), ("elsewhere", "device"), ("raises", "runs"),
])
def test_a_bad_user_scheme_is_refused_naming_the_check(user_module, attribute, check):
    with pytest.raises(SchemeCheckError, match=f"scheme 'my_schemes:{attribute}' failed the '{check}' check"):
        resolve([f"{user_module}:{attribute}"])


@pytest.mark.parametrize("attribute,method", [("KeyFails", "make_key"), ("DescribeFails", "describe"),
                                              ("raises", "encrypt")])
def test_a_user_scheme_whose_method_raises_is_named_with_the_error(user_module, attribute, method):
    check = "runs" if method == "encrypt" else method
    message = "not today" if method == "encrypt" else {"make_key": "no keys today", "describe": "nothing to say"}[method]
    with pytest.raises(SchemeCheckError, match=f"scheme 'my_schemes:{attribute}' failed the '{check}' check: "
                                               f"your scheme's {method} raised RuntimeError: {message}"):
        resolve([f"{user_module}:{attribute}"])


@pytest.mark.parametrize("source,error", [("raise RuntimeError('import boom')\n", "RuntimeError: import boom"),
                                          ("def f(x, key) return x\n", "SyntaxError: ")])
def test_a_user_module_that_fails_to_import_is_named(tmp_path, monkeypatch, source, error):
    (tmp_path / "broken_schemes.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_schemes", raising=False)
    with pytest.raises(ValueError, match=f"scheme 'broken_schemes:f': importing module 'broken_schemes' raised {error}"):
        resolve(["broken_schemes:f"])


def test_check_scheme_and_function_cipher_refuse_what_is_not_a_scheme():
    with pytest.raises(TypeError, match=r"scheme 'five': cipher must follow the imgleak Cipher interface .* got int"):
        check_scheme(5, "five")
    with pytest.raises(TypeError, match=r"scheme 'cls': cipher must be a cipher instance, got the class FunctionCipher"):
        check_scheme(FunctionCipher, "cls")
    with pytest.raises(TypeError, match=r"function must be callable as f\(images, key\) -> images, got int"):
        FunctionCipher(5)


def test_a_function_cipher_never_passes_a_float_result_through():
    x = torch.arange(12, dtype=torch.uint8).view(3, 2, 2)
    good = FunctionCipher(lambda images, key: images ^ 1, "xor1")
    assert torch.equal(good.encrypt(x, None), x ^ 1)  # a single image in, a single image out
    floaty = FunctionCipher(lambda images, key: images.float(), "floaty")
    with pytest.raises(SchemeCheckError, match="scheme 'floaty' failed the 'dtype' check: encrypt must return uint8 "
                                               "pixels, got torch.float32"):
        floaty.encrypt(x, None)


@pytest.mark.parametrize("name,message", [
    ("my_schemes:not_a_scheme", "is a int: expected a Cipher"),
    ("my_schemes:missing", "'missing' is not an attribute of module 'my_schemes'"),
    ("no_such_module_here:f", "cannot import module 'no_such_module_here'"),
    ("my_schemes:", "must be a library name or 'package.module:attribute'"),
    ("os:system('true')", "is not an attribute"),  # imported by name, never evaluated
    ("rot13", "unknown scheme 'rot13'; choose from identity, one_time_pad, selective-1"),
])
def test_names_that_are_not_schemes_are_refused(user_module, name, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve([name])


def test_resolve_refuses_repeats_and_non_lists():
    with pytest.raises(ValueError, match="must not repeat"):
        resolve(["identity", "identity"])
    with pytest.raises(ValueError, match="non-empty list"):
        resolve("identity")
    with pytest.raises(TypeError, match="must be a str"):
        resolve([3])


def test_check_uses_the_shape_it_is_given():
    cipher = FunctionCipher(lambda x, key: x[:, :1].expand_as(x) ^ key.material[0], "grey")
    check_scheme(cipher, "grey", (2, 1, 16, 16))  # one channel: fine
    with pytest.raises(ValueError, match="'runs' check"):
        check_scheme(FunctionCipher(lambda x, key: x.view(2, 3, 32, 32) ^ 1, "fixed"), "fixed", (2, 3, 16, 16))


def test_tn_model_key_trains_on_the_context_labels_when_it_has_them():
    images = torch.randint(0, 256, (8, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labelled = Context(images, 0, BUDGETS["quick"], labels=torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    assert learned_key("tn_model", 0, labelled).settings["num_classes"] == 3  # the digits' classes, not one per image
    assert learned_key("tn_model", 0, replace(labelled, labels=None)).settings["num_classes"] == 8
