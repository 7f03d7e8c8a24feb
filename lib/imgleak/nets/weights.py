"""The one policy for pretrained weights: where they are looked for, when a download is tried, and the
error that names the missing file.

- **Caches** (never the network): torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``,
  :func:`torch_hub_file`) for torchvision weights, the Hugging Face hub cache (``HF_HUB_CACHE``,
  ``HF_HOME``, ``XDG_CACHE_HOME``: :func:`hf_hub_cache`, :func:`find_in_hf_cache`) for open_clip's.
- **Offline** (:func:`offline`): ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` set, now or when
  huggingface_hub was imported; then nothing is downloaded and a missing file fails at once.
- **The error**: :class:`WeightsUnavailableError` (a ``RuntimeError``), whose message
  (:func:`missing_message`) names the file, every place it was looked for and how to provide it.

:func:`torchvision_weights` applies all three to a torchvision weights enum (the ResNet encoders,
the ViT-B/16 classifier).

>>> issubclass(WeightsUnavailableError, RuntimeError)
True
>>> print(missing_message("weights for 'x'", "not cached and HF_HUB_OFFLINE is set", ["/cache/x.pth"],
...                       "copy x.pth there"))
weights for 'x' are not available: not cached and HF_HUB_OFFLINE is set. Looked for: /cache/x.pth. To provide them: copy x.pth there.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from huggingface_hub import constants, try_to_load_from_cache


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable here; the message says how to get them."""


_TRUE = {"1", "ON", "YES", "TRUE"}


def offline() -> bool:
    """``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` set now, or when huggingface_hub was imported."""
    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return flag.strip().upper() in _TRUE or bool(getattr(constants, "HF_HUB_OFFLINE", False))


def hf_host() -> str | None:
    """Host name of the Hugging Face endpoint (``HF_ENDPOINT``, else huggingface.co)."""
    return urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).hostname


def resolves(host: str) -> bool:
    """Whether a DNS lookup of ``host`` succeeds (a quick test for "no network at all")."""
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder, resolved from the environment now (as huggingface_hub does)."""
    env = os.environ
    if env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
        folder = env.get("HF_HUB_CACHE") or env["HUGGINGFACE_HUB_CACHE"]
    else:
        xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(env.get("HF_HOME") or os.path.join(xdg, "huggingface"), "hub")
    return Path(os.path.expandvars(os.path.expanduser(folder)))


def find_in_hf_cache(repo: str, filenames: Sequence[str]) -> Path | None:
    """The first of ``filenames`` of ``repo`` in the Hugging Face hub cache, or None (no network)."""
    for filename in filenames:
        hit = try_to_load_from_cache(repo, filename, cache_dir=str(hf_hub_cache()))
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None


def torch_hub_file(url: str) -> Path:
    """Where torch hub keeps the file downloaded from ``url`` (``<torch hub dir>/checkpoints/<file name>``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def missing_message(what: str, reason: str, looked: Sequence[str | Path], how: str) -> str:
    """``"<what> are not available: <reason>. Looked for: <places>. To provide them: <how>."``"""
    return f"{what} are not available: {reason}. Looked for: {', '.join(map(str, looked))}. To provide them: {how}."


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` a weights file holds (a ``{"state_dict": ...}`` wrapper and ``module.`` prefixes
    taken off); ``ValueError`` naming the file when it holds none."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"weights file {path} could not be read as a PyTorch state_dict: {err}") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ValueError(f"weights file {path} does not hold a state_dict (got {type(state).__name__})")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def torchvision_weights(weights: Any, what: str, command: str, alternatives: str,
                        progress: bool = False) -> tuple[dict[str, Any], Path]:
    """The state dict of a torchvision weights enum member and the file it is kept in: read from torch
    hub's cache; else, unless :func:`offline`, downloaded there (hash checked). Otherwise a
    :class:`WeightsUnavailableError` naming ``what``, the file and where it was looked for, the
    ``command`` that fetches it and the caller's ``alternatives`` (e.g. ``pretrained=False``)."""
    path = torch_hub_file(weights.url)
    if path.is_file():
        return read_state_dict(path), path
    ways = (f"run once with internet: {command} (it stores {path.name} there; set TORCH_HOME to choose the "
            f"folder), or copy {path.name} into {path.parent}; {alternatives}")
    if offline():
        raise WeightsUnavailableError(missing_message(what, "not cached and HF_HUB_OFFLINE is set", [path], ways))
    try:
        state = weights.get_state_dict(progress=progress, check_hash=True)
    except Exception as err:  # URLError, RuntimeError, OSError offline
        raise WeightsUnavailableError(missing_message(what, f"the download failed ({err})", [path], ways)) from err
    return state, path


__all__ = ["WeightsUnavailableError", "find_in_hf_cache", "hf_host", "hf_hub_cache", "missing_message", "offline",
           "read_state_dict", "resolves", "torch_hub_file", "torchvision_weights"]
