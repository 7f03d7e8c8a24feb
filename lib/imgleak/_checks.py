"""Argument checks shared by the whole library: each raises a named ``TypeError``/``ValueError``
whose message names the argument and what it accepts, and returns the value normalised.

>>> positive_int(np.int64(3), "epochs")
3
>>> non_negative_int(-1, "first_index")
Traceback (most recent call last):
...
ValueError: first_index must be a non-negative int, got -1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` >= 1 (numpy integers accepted, bools refused)."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` >= 0 (numpy integers accepted, bools refused)."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def optional_positive_int(value: Any, name: str) -> int | None:
    """``None``, or ``value`` as a positive ``int``."""
    return None if value is None else positive_int(value, name)


def integer(value: Any, name: str) -> int:
    """``value`` as an ``int`` of any sign (numpy integers accepted; bools and floats refused)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def number(value: Any, name: str, *, positive: bool = False, allow_negative: bool = False) -> float:
    """``value`` as a finite ``float``: >= 0 by default, > 0 with ``positive``, any sign with ``allow_negative``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(value) or (value < 0 and not allow_negative) or (positive and value <= 0):
        kind = "positive " if positive else "" if allow_negative else "non-negative "
        raise ValueError(f"{name} must be a {kind}finite number, got {value!r}")
    return float(value)


def boolean(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (a string or number is refused, never read as truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(value: Any, name: str, allowed: Sequence[T]) -> T:
    """``value`` if it is one of ``allowed``."""
    try:
        if value in allowed:
            return value
    except TypeError:  # an unhashable value
        pass
    raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def names(values: Any, name: str, allowed: Sequence[T]) -> list[T]:
    """``values`` as a list: a non-empty sequence (not a string) of distinct items of ``allowed``.

    >>> names(("fr", "gan"), "attacks", ["fr", "itn", "gan"])
    ['fr', 'gan']
    >>> names(["fr", "brute"], "attacks", ["fr", "itn", "gan"])
    Traceback (most recent call last):
    ...
    ValueError: unknown attacks ['brute']; choose from ['fr', 'itn', 'gan']
    >>> names("fr", "attacks", ["fr"])
    Traceback (most recent call last):
    ...
    ValueError: attacks must be a non-empty list of names from ['fr'], got 'fr'
    """
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of names from {list(allowed)}, got {values!r}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name} {unknown}; choose from {list(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a name, got {list(values)}")
    return list(values)


def size_pair(value: Any, name: str) -> tuple[int, int]:
    """``(height, width)`` from a positive int (a square) or a pair of positive ints.

    >>> size_pair(16, "input_size"), size_pair([8, np.int64(12)], "input_size")
    ((16, 16), (8, 12))
    """
    if isinstance(value, (tuple, list)) and len(value) == 2:
        height, width = value
    else:
        height = width = value
    if not (_is_int(height) and _is_int(width)) or height < 1 or width < 1:
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(height), int(width)


def fraction(value: Any, name: str, *, zero: bool = False) -> float:
    """``value`` as a ``float`` in ``(0, 1)``, or in ``[0, 1)`` with ``zero`` (bools and NaN refused)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not (0 <= value < 1 if zero else 0 < value < 1):
        raise ValueError(f"{name} must be a number in {'[' if zero else '('}0, 1), got {value!r}")
    return float(value)


def integer_tensor(value: Any, name: str, what: str = "integers") -> torch.Tensor:
    """``value`` (a tensor, array or nested list) as a tensor of an integer dtype: floats and bools
    are refused, never truncated; ``what`` says what the integers are, for the message.

    >>> integer_tensor([[1, 2]], "positions").dtype
    torch.int64
    >>> integer_tensor([[1.7, 2.0]], "positions")
    Traceback (most recent call last):
    ...
    TypeError: positions must hold integers, got dtype torch.float32
    """
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must hold {what}, got {type(value).__name__}") from err
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold {what}, got dtype {tensor.dtype}")
    return tensor
