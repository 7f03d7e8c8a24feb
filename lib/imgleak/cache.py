"""A content cache for expensive results (embeddings, trained networks, MI estimates), on joblib's ``Memory``.

``cached(function)(*args, **kwargs)`` returns ``function(*args, **kwargs)``, computed once per
*content*: the key is a digest of the function's qualified name, the library's code and lock
(:func:`imgleak.provenance.library_digest`) and the arguments' values — tensors and networks by
their bytes (``state_dict``), so two equal tensors made separately share a key, which pickling
them would not give. Anything else is hashed by :func:`joblib.hash`. A changed argument or a new
library version computes again; nothing else does.

The cache is off unless the ``IMGLEAK_CACHE`` environment variable names a folder (``imgleak
book`` sets ``.cache/imgleak`` under the book's root for its chapters). After each new entry the
folder is cut back to ``IMGLEAK_CACHE_LIMIT`` (default ``4G``; joblib's size notation), least
recently used entries first. Each call says on standard error whether it was ``computed`` or
``reused`` (the book hides standard error; ``bench/book_reexecute.py`` reads it). :func:`clear_cache` empties it (``imgleak book --clear-cache``, or
``make clean``).

>>> import os, tempfile, torch
>>> os.environ["IMGLEAK_CACHE"] = tempfile.mkdtemp()
>>> calls = []
>>> def total(x):
...     calls.append(1)
...     return x.sum()
>>> cached(total)(torch.ones(3)), cached(total)(torch.ones(3)), len(calls)
(tensor(3.), tensor(3.), 1)
>>> del os.environ["IMGLEAK_CACHE"]
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import joblib
import torch
from torch import nn

from .provenance import library_digest

CACHE_ENV = "IMGLEAK_CACHE"
LIMIT_ENV = "IMGLEAK_CACHE_LIMIT"
DEFAULT_LIMIT = "4G"
T = TypeVar("T")

__all__ = ["CACHE_ENV", "LIMIT_ENV", "cache_dir", "cached", "clear_cache", "content_key"]


def cache_dir() -> Path | None:
    """The cache folder (``$IMGLEAK_CACHE``), or ``None`` when caching is off."""
    location = os.environ.get(CACHE_ENV, "").strip()
    return Path(location) if location else None


def _plain(value: Any) -> Any:
    """``value`` with tensors, networks and dataclasses replaced by plain data that hashes by content."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        return ("tensor", str(value.dtype), tuple(value.shape), flat.view(torch.uint8).numpy())
    if isinstance(value, nn.Module):
        return ("module", type(value).__qualname__, _plain(dict(value.state_dict())))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__, _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, torch.device):
        return ("device", str(value))
    return value


def content_key(function: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The cache key of ``function(*args, **kwargs)``: its name, the library's digest and the arguments' contents.

    >>> content_key(len, torch.zeros(2)) == content_key(len, torch.zeros(2)) != content_key(len, torch.ones(2))
    True
    """
    name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"
    return joblib.hash((name, _library_version(), _plain(args), _plain(kwargs)))


@functools.lru_cache(maxsize=1)
def _library_version() -> str:
    return library_digest()


def _compute(key: str, function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """The cached call: joblib keys it on ``key`` alone (the other arguments are ignored by the hash)."""
    return function(*args, **kwargs)


def cached(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` computed once per content key while the cache is on (see the module docstring)."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> T:
        folder = cache_dir()
        if folder is None:
            return function(*args, **kwargs)
        memory = joblib.Memory(folder, verbose=0)
        compute = memory.cache(_compute, ignore=["function", "args", "kwargs"])
        key = content_key(function, *args, **kwargs)
        known = compute.check_call_in_cache(key, function, args, kwargs)
        start = time.perf_counter()
        result = compute(key, function, args, kwargs)
        if not known:
            memory.reduce_size(bytes_limit=os.environ.get(LIMIT_ENV, DEFAULT_LIMIT))
        print(f"[imgleak.cache] {'reused' if known else 'computed'} {function.__qualname__} {key[:12]} "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return result

    return call


def clear_cache(folder: str | os.PathLike | None = None) -> bool:
    """Delete the cache folder (default :func:`cache_dir`); ``True`` if there was one."""
    target = Path(folder) if folder is not None else cache_dir()
    if target is None or not target.exists():
        return False
    shutil.rmtree(target)
    return True
