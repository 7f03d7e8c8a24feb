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

    >>> batch, single = as_image_batch(torch.zeros(3, 4, 5, dtype=torch.uint8))
    >>> batch.shape, single
    (torch.Size([1, 3, 4, 5]), True)
    >>> as_image_batch(torch.zeros(3, 4, 5), "images")
    Traceback (most recent call last):
    ...
    TypeError: images must have dtype torch.uint8 (8-bit pixels), got torch.float32; ...
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
    """Undo :func:`as_image_batch`: drop the batch axis again if the input was a single image.

    >>> restore_rank(*as_image_batch(torch.zeros(3, 4, 5, dtype=torch.uint8))).shape
    torch.Size([3, 4, 5])
    """
    return batch.squeeze(0) if single else batch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``.

    >>> resolve_device("cpu"), resolve_device("auto").type in ("cpu", "cuda")
    (device(type='cpu'), True)
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return resolved


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images → float32 in [0, 1] (``x / 255``, a new tensor).

    >>> to_unit(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
    [0.0, 1.0]
    """
    return x.float().div_(255.0)


def to_uint8(y: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] → uint8 (``y · 255`` rounded, clamped to [0, 255]).

    >>> to_uint8(to_unit(torch.tensor([0, 7, 255], dtype=torch.uint8))).tolist()
    [0, 7, 255]
    """
    return y.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def module_device(network: torch.nn.Module, default: torch.device) -> torch.device:
    """The device of ``network``'s first parameter (or buffer); ``default`` for a network with neither.

    >>> meta = torch.device("meta")
    >>> module_device(torch.nn.Linear(2, 2), meta), module_device(torch.nn.ReLU(), meta)  # ReLU: no parameters
    (device(type='cpu'), device(type='meta'))
    """
    for tensor in network.parameters():
        return tensor.device
    for tensor in network.buffers():
        return tensor.device
    return default


def run_network(network: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """A [0, 1] → [0, 1] image network on a uint8 batch ``(N, C, H, W)``: eval mode, no gradients,
    ``batch_size`` images at a time (contiguous, so every memory layout gives the same result) on
    the network's device; uint8 out, on ``x``'s device.

    >>> x = torch.arange(48).reshape(3, 1, 4, 4).to(torch.uint8)
    >>> torch.equal(run_network(torch.nn.Identity(), x, batch_size=2), x)  # to [0, 1] and back exactly
    True
    """
    device = module_device(network, x.device)
    network.eval()
    outs = []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            outs.append(to_uint8(network(to_unit(x[start:start + batch_size].to(device).contiguous()))).to(x.device))
    return torch.cat(outs) if outs else torch.empty(x.shape, dtype=torch.uint8, device=x.device)
