"""The content cache: computed once per content, keyed by values not objects, bounded, clearable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from imgleak import cache


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def counting(function):
    calls: list[tuple] = []

    def wrapped(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    wrapped.__qualname__ = function.__qualname__
    return wrapped, calls


def test_off_without_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    function, calls = counting(lambda x: x + 1)
    assert cache.cached(function)(1) == cache.cached(function)(1) == 2
    assert len(calls) == 2 and cache.cache_dir() is None


def test_equal_contents_share_an_entry_and_a_change_recomputes(folder: Path, capsys) -> None:
    function, calls = counting(lambda x, scale=1: x * scale)
    first = cache.cached(function)(torch.arange(4.0), scale=2)
    again = cache.cached(function)(torch.arange(4.0), scale=2)  # another tensor, the same values
    assert torch.equal(first, again) and len(calls) == 1
    said = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in said] == ["computed", "reused"] and said[0].split()[3] == said[1].split()[3]
    cache.cached(function)(torch.arange(4.0), scale=3)
    cache.cached(function)(torch.arange(4.0).double(), scale=2)  # same values, another dtype
    cache.cached(function)(torch.arange(4.0).reshape(2, 2), scale=2)
    assert len(calls) == 4


def test_networks_are_keyed_by_their_weights() -> None:
    torch.manual_seed(0)
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert cache.content_key(len, a) == cache.content_key(len, b)
    with torch.no_grad():
        b.bias[0] += 1
    assert cache.content_key(len, a) != cache.content_key(len, b)


def test_a_new_library_version_recomputes(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, calls = counting(lambda x: x)
    cache.cached(function)(1)
    monkeypatch.setattr(cache, "_library_version", lambda: "another version")
    cache.cached(function)(1)
    assert len(calls) == 2


def test_the_folder_is_cut_back_to_the_limit_and_can_be_cleared(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.LIMIT_ENV, "1M")
    function, _ = counting(lambda seed: torch.randn(100_000, generator=torch.Generator().manual_seed(seed)))  # 400 kB
    for seed in range(6):
        cache.cached(function)(seed)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 1024 ** 2
    assert cache.clear_cache() is True and not folder.exists() and cache.clear_cache() is False
