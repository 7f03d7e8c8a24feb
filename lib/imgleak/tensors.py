"""Checks and rank handling shared by everything that takes images.

imgleak images are ``torch.uint8`` tensors shaped ``(N, C, H, W)``; a single image may be
``(C, H, W)``. Public functions accept either and return the same rank.
"""

from __future__ import annotations

import torch


def as_image_batch(x: torch.Tensor, name: str = "x") -> tuple[torch.Tensor, bool]:
    """Check that ``x`` is a uint8 image or batch; return it as ``(N, C, H, W)`` and whether it was single.

    Raises ``TypeError`` for a non-tensor or a dtype other than uint8 and ``ValueError`` for a
    rank other than 3 or 4, an empty spatial size or no channels.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of dtype uint8, got {type(x).__name__}")
    if x.dtype != torch.uint8:
        raise TypeError(
            f"{name} must have dtype torch.uint8 (8-bit pixels), got {x.dtype}; "
            "convert floats in [0, 1] with (x * 255).round().to(torch.uint8)"
        )
    if x.dim() not in (3, 4):
        raise ValueError(
            f"{name} must be shaped (C, H, W) or (N, C, H, W), got {tuple(x.shape)}"
        )
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} has an empty spatial size {tuple(x.shape[-2:])}")
    if x.shape[-3] == 0:
        raise ValueError(f"{name} has no channels: {tuple(x.shape)}")
    single = x.dim() == 3
    return (x.unsqueeze(0) if single else x), single


def restore_rank(batch: torch.Tensor, single: bool) -> torch.Tensor:
    """Undo :func:`as_image_batch`: drop the batch axis again if the input was a single image."""
    return batch.squeeze(0) if single else batch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return resolved
