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
import os
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

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
        kind = "positive" if positive else "finite" if allow_negative else "non-negative"
        raise ValueError(f"{name} must be a {kind} finite number, got {value!r}")
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


def seed(value: Any, name: str = "seed") -> int:
    """``value`` as an ``int`` seed; ``None`` draws a fresh one from the operating system."""
    if value is None:
        return int.from_bytes(os.urandom(8), "little") >> 1
    return integer(value, name)
