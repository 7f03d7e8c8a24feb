"""Shared fixtures: the ``--device`` option feeds a ``device`` fixture (kornia style)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # missing weights must fail at once, not after retries
os.environ.setdefault("MPLBACKEND", "agg")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device", default="cpu", choices=("cpu", "cuda", "auto"),
        help="device for tensor tests: cpu (default), cuda, or auto (cuda when present)",
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    choice = request.config.getoption("--device")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        pytest.exit("--device cuda was asked for but CUDA is not available on this machine", returncode=4)
    # with its index, as tensors report it: torch.device("cuda") != torch.device("cuda", 0)
    return torch.device("cuda", torch.cuda.current_device()) if choice == "cuda" else torch.device(choice)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread: small networks train faster that way, and do not
    slow to a crawl when the 2-core machine is shared (modules opt in with ``usefixtures``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
