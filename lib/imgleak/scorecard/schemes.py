"""The schemes a scorecard compares: every library scheme under one name, the two controls, and a
user's own scheme named as ``package.module:attribute``.

:func:`library_schemes` gives every library scheme as a :class:`~imgleak.scorecard.base.Subject`:
the controls ``identity`` (no protection) and ``one_time_pad`` (ChaCha20 XOR of all 8 bits:
selective encryption with n = 8), then the other variants of
:data:`imgleak.ciphers.library.VARIANTS` (``selective-1`` … ``selective-7``, ``rvt-faithful``, ...,
``tn_gan``) and every other registered cipher under its registered name: registering a scheme
(:func:`imgleak.ciphers.register`) puts it here.

The learned schemes train their key on the run's images (``Context.images``) at
``budget.tn_epochs`` epochs, seeded with the cell's seed, on the run's device. The TN-model needs
class labels: each crop is labelled with the index of the photo it was cut from
(:func:`imgleak.scorecard.sources.crop_source_index`: crop ``i`` comes from source ``i mod S``), as
:func:`imgleak.attacks.datasets.photo_crops` labels its crops; a context without sources labels
every image as its own class.

:func:`resolve` turns command-line names into subjects: a library name, or ``module:attribute``
(imported with :mod:`importlib`, never ``eval``-ed) holding a Cipher instance, a Cipher class
(built with no arguments) or a plain function ``f(images, key) -> images`` (uint8 ``(N, C, H, W)``
in and out), which :class:`FunctionCipher` adapts. A user's scheme is checked first
(:func:`check_scheme`) and refused with a ``ValueError`` naming the check it failed.

>>> subjects = resolve(["identity", "one_time_pad"])
>>> [s.name for s in subjects], subjects[1].cipher.describe()
(['identity', 'one_time_pad'], 'selective encryption, 8 MSBs')
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from .. import ciphers
from ..ciphers import Cipher, CipherBase
from ..ciphers.base import check_cipher
from ..tensors import as_image_batch, restore_rank
from .base import Context, Subject
from .sources import crop_source_index

IDENTITY = "identity"
"""The control that leaks everything (no protection)."""
ONE_TIME_PAD = "one_time_pad"
"""The control that leaks nothing: ChaCha20 XOR of all 8 bits (``ciphers.get("selective", bits=8)``)."""
CONTROLS = (IDENTITY, ONE_TIME_PAD)

CHECK_SHAPE = (2, 3, 32, 32)
"""The images a user's scheme is checked on (:func:`check_scheme`) unless told otherwise."""


# ------------------------------------------------------------------------------------ learned keys


def _labels(context: Context) -> torch.Tensor:
    """The class of each plain image: ``context.labels``, else the index of its source photo (each image its
    own class without sources)."""
    n = int(context.images.shape[0])
    if context.labels is not None:
        return context.labels
    if not context.sources:
        return torch.arange(n, dtype=torch.int64)
    return crop_source_index(n, len(context.sources))


def learned_key(scheme: str, seed: int, context: Context) -> Any:
    """A key of the learned scheme registered as ``scheme`` (TN-model, TN-GAN) for ``seed``: trained by
    :func:`imgleak.training.transform_nets.train_key` on ``context.images`` (labelled by source photo),
    every epoch count ``budget.tn_epochs``, on the run's device.

    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), 0, BUDGETS["quick"])
    >>> key = learned_key("tn_model", 0, context)
    >>> key.name, key.settings["epochs"], key.settings["classifier_epochs"]
    ('tn_model', 1, 1)
    """
    from ..training.transform_nets import train_key  # heavy (torchmetrics): only where a key is trained

    return train_key(scheme, context.images, _labels(context), all_epochs=context.budget.tn_epochs, seed=seed,
                     device=context.device, progress=False).key


# ------------------------------------------------------------------------------------ library


def library_schemes() -> dict[str, Subject]:
    """Every scheme variant (:func:`imgleak.ciphers.variants`: the table
    :data:`~imgleak.ciphers.library.VARIANTS`, then every other registered cipher) under its scorecard
    name, controls first; a scheme whose cipher declares ``learned_key`` trains its key
    (:func:`learned_key`).

    >>> schemes = library_schemes()
    >>> list(schemes)[:3], schemes["selective-3"].cipher.bits, schemes["tn_gan"].trained_keys
    (['identity', 'one_time_pad', 'selective-1'], 3, True)
    """
    schemes = {}
    for name, variant in ciphers.variants().items():
        cipher = ciphers.build(variant)
        if getattr(cipher, "learned_key", False):
            schemes[name] = Subject(name, cipher, make_key=partial(learned_key, variant.cipher), trained_keys=True)
        else:
            schemes[name] = Subject(name, cipher)
    return schemes


# ------------------------------------------------------------------------------------ a user's scheme


@dataclass(frozen=True)
class FunctionCipher(CipherBase):
    """A plain function ``f(images uint8 (N, C, H, W), key) -> same shape uint8`` on the Cipher interface.

    Keys are imgleak :class:`~imgleak.keys.Key` objects from ``Key.from_seed`` (the function gets
    the ``Key``; ``key.material`` holds its 32 bytes). Not invertible (no ``decrypt``), one key for
    all images (``first_index`` is checked by nothing and ignored), and the key space is unknown:
    ``key_space_log2`` is NaN.

    >>> cipher = FunctionCipher(lambda x, key: 255 - x, "negative")
    >>> cipher.encrypt(torch.zeros(3, 2, 2, dtype=torch.uint8), cipher.make_key(0))[0, 0, 0].item()
    255
    >>> cipher.describe(), math.isnan(cipher.key_space_log2((3, 2, 2)))
    ('negative (a user function)', True)
    """

    function: Callable[[torch.Tensor, Any], torch.Tensor]
    name: str = "function"  # type: ignore[misc]  # an instance's name: its module:attribute

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise TypeError(f"function must be callable as f(images, key) -> images, got {type(self.function).__name__}")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")

    def encrypt(self, x: torch.Tensor, key: Any, *, first_index: int = 0) -> torch.Tensor:
        """``function(x, key)``; a single image ``(C, H, W)`` is passed as a batch of one. What the
        function returns is checked as :func:`check_scheme` does (a uint8 tensor of the input's shape
        and device; :class:`SchemeCheckError` otherwise): a float result is refused, never passed on
        as if it were pixels.

        >>> FunctionCipher(lambda x, key: x / 255, "scaled").encrypt(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), None)
        Traceback (most recent call last):
        ...
        imgleak.scorecard.schemes.SchemeCheckError: scheme 'scaled' failed the 'dtype' check: encrypt must return uint8 pixels, got torch.float32
        """
        batch, single = as_image_batch(x, "x")
        return restore_rank(_checked_output(self.function(batch, key), batch, self.name), single)

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """NaN: the key space of a user's function is not known."""
        return math.nan

    def describe(self) -> str:
        """``"<name> (a user function)"``."""
        return f"{self.name} (a user function)"


class SchemeCheckError(ValueError):
    """A user's scheme failed one of :func:`check_scheme`'s checks (the message names the scheme and the check)."""


def _fail(name: str, check: str, detail: str) -> SchemeCheckError:
    return SchemeCheckError(f"scheme {name!r} failed the {check!r} check: {detail}")


def _call(name: str, check: str, method: Callable[..., Any], *args: Any) -> Any:
    """``method(*args)``; whatever a user's code raises is reported as the failed ``check``."""
    try:
        return method(*args)
    except SchemeCheckError:
        raise
    except Exception as err:  # a user's code may raise anything: report it by the check's name
        what = getattr(method, "__name__", check)
        raise _fail(name, check, f"your scheme's {what} raised {type(err).__name__}: {err}") from err


def _checked_output(y: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    """``y``, what encrypting ``x`` gave, if it is a tensor of x's shape, dtype (uint8) and device."""
    if not isinstance(y, torch.Tensor):
        raise _fail(name, "tensor", f"encrypt must return a torch.Tensor, got {type(y).__name__}")
    if tuple(y.shape) != tuple(x.shape):
        raise _fail(name, "shape", f"encrypt must keep the shape {tuple(x.shape)}, got {tuple(y.shape)}")
    if y.dtype != torch.uint8:
        raise _fail(name, "dtype", f"encrypt must return uint8 pixels, got {y.dtype}")
    if y.device != x.device:
        raise _fail(name, "device", f"encrypt must return on the input's device {x.device}, got {y.device}")
    return y


def _encrypted(cipher: Cipher, x: torch.Tensor, key: Any, name: str) -> torch.Tensor:
    """``cipher.encrypt(x, key)`` checked for type, shape, dtype and device."""
    return _checked_output(_call(name, "runs", cipher.encrypt, x, key), x, name)


def check_scheme(cipher: Cipher, name: str, shape: Sequence[int] = CHECK_SHAPE) -> None:
    """Refuse a scheme that cannot be scored, with a :class:`SchemeCheckError` (a ``ValueError``) naming the
    failed check: ``make_key`` and ``describe`` (the method raised, or ``describe`` gave no str), ``runs``
    (``encrypt`` raised), ``tensor``, ``shape``, ``dtype``, ``device``, ``input kept`` (the plain images
    are not written to), ``deterministic`` (one key, one output) or ``key`` (another key, another
    output). What is not a cipher instance at all is a ``TypeError``.

    >>> check_scheme(FunctionCipher(lambda x, key: x, "ignores_key"), "ignores_key")
    Traceback (most recent call last):
    ...
    imgleak.scorecard.schemes.SchemeCheckError: scheme 'ignores_key' failed the 'key' check: two different keys gave the same output
    """
    check_cipher(cipher, f"scheme {name!r}: cipher")
    shape = tuple(shape)
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    key, other = (_call(name, "make_key", cipher.make_key, seed, shape[1:]) for seed in (0, 1))
    description = _call(name, "describe", cipher.describe)
    if not isinstance(description, str):
        raise _fail(name, "describe", f"describe must return a str, got {type(description).__name__}")
    y = _encrypted(cipher, x, key, name)
    if not torch.equal(x, before):
        raise _fail(name, "input kept", "encrypt wrote into the plain images it was given; return a new tensor")
    if not torch.equal(_encrypted(cipher, before.clone(), key, name), y):
        raise _fail(name, "deterministic", "the same key gave two different outputs")
    if torch.equal(_encrypted(cipher, before.clone(), other, name), y):
        raise _fail(name, "key", "two different keys gave the same output")


def _import(spec: str) -> Any:
    """The object ``module:attribute`` names (dots in the attribute walk into it)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ValueError(f"scheme {spec!r} must be a library name or 'package.module:attribute'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"scheme {spec!r}: cannot import module {module_name!r} ({err})") from err
    except Exception as err:  # the module's own code failed (SyntaxError included): name the scheme and the error
        raise ValueError(f"scheme {spec!r}: importing module {module_name!r} raised {type(err).__name__}: {err}") from err
    for part in attribute.split("."):
        if not part.isidentifier() or not hasattr(target, part):
            raise ValueError(f"scheme {spec!r}: {attribute!r} is not an attribute of module {module_name!r}")
        target = getattr(target, part)
    return target


def user_subject(spec: str, shape: Sequence[int] = CHECK_SHAPE) -> Subject:
    """The scheme ``module:attribute`` names, checked (:func:`check_scheme`), as a subject called ``spec``.

    >>> user_subject("imgleak.ciphers:Identity").cipher.name
    Traceback (most recent call last):
    ...
    imgleak.scorecard.schemes.SchemeCheckError: scheme 'imgleak.ciphers:Identity' failed the 'key' check: two different keys gave the same output
    """
    target = _import(spec)
    if isinstance(target, type):
        try:
            target = target()
        except Exception as err:
            raise ValueError(f"scheme {spec!r}: the class could not be built with no arguments ({err})") from err
        if not isinstance(target, Cipher):
            raise ValueError(f"scheme {spec!r}: the class does not follow the imgleak Cipher interface "
                             "(imgleak.ciphers.base.Cipher: encrypt, decrypt, make_key, key_space_log2, describe)")
    if isinstance(target, Cipher):
        cipher: Cipher = target
    elif callable(target):
        cipher = FunctionCipher(target, spec)
    else:
        raise ValueError(f"scheme {spec!r} is a {type(target).__name__}: expected a Cipher instance or class, "
                         "or a function f(images, key) -> images")
    check_scheme(cipher, spec, shape)
    return Subject(spec, cipher)


def resolve(names: Sequence[str], shape: Sequence[int] = CHECK_SHAPE) -> list[Subject]:
    """Subjects for ``names`` (library names or ``module:attribute``), in order; users' schemes checked on
    images of ``shape`` (``(N, C, H, W)``: give the run's crop size).

    >>> resolve(["rot13"])
    Traceback (most recent call last):
    ...
    ValueError: unknown scheme 'rot13'; choose from identity, one_time_pad, selective-1, ..., tn_gan, or give 'package.module:attribute'
    """
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ValueError(f"names must be a non-empty list of scheme names, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"names must not repeat a scheme, got {list(names)}")
    library = library_schemes()
    subjects = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a scheme name must be a str, got {type(name).__name__} {name!r}")
        if name in library:
            subjects.append(library[name])
        elif ":" in name:
            subjects.append(user_subject(name, shape))
        else:
            raise ValueError(f"unknown scheme {name!r}; choose from {', '.join(library)}, "
                             "or give 'package.module:attribute'")
    return subjects


__all__ = ["CHECK_SHAPE", "CONTROLS", "FunctionCipher", "IDENTITY", "ONE_TIME_PAD", "SchemeCheckError", "check_scheme",
           "learned_key", "library_schemes", "resolve", "user_subject"]
