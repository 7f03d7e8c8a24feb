"""FR-Attack: feature reconstruction from cipher images alone (Chang & Case, arXiv 2004.13263).

Algorithm 1, as corrected in the project reference (the seed paper's "2L−1" is an extraction
artefact): for every pixel and channel of the cipher image, read the value as L-bit fields and

    if floor(p / 2^(L−1)) != b:      # the field's leading bit is not b
        p ← p XOR (2^L − 1)           # undo a possible negative–positive flip

With L = 8, b = 0 (the authors' code and the Kiya-lab re-implementation) every byte above 127
becomes ``255 − p``: every value is folded into [0, 127], which removes the pixel-wise
negative–positive transform up to one global fold and brings the edges back. The colour-channel
shuffle is not undone. ``bits=4`` is the nibble-wise variant (each 4-bit half of a byte is folded
on its own), natural for Tanaka's nibble reversal; L must divide 8.

The attack needs no key and no training; it runs on the whole batch at once, on its device.
"""

from __future__ import annotations

import numbers

import torch

from ..tensors import as_image_batch, restore_rank

CHANNEL_ORDERS = ("keep", "sort")


def feature_reconstruction(
    y: torch.Tensor, bits: int = 8, leading_bit: int = 0, channel_order: str = "keep"
) -> torch.Tensor:
    """Reconstruct features of uint8 cipher images ``(C, H, W)`` or ``(N, C, H, W)`` (same shape out).

    ``bits`` is L (1, 2, 4 or 8: each byte is read as 8 / L fields of L bits), ``leading_bit`` is
    b (0 or 1): fields whose most significant bit differs from b are XORed with ``2^L − 1``.
    ``channel_order="sort"`` (our addition, not in Algorithm 1) then sorts each pixel's
    channel values in decreasing order, one canonical order in place of the pixel-wise scheme's
    random one; ``"keep"`` (default) is Algorithm 1 as published.
    """
    batch, single = as_image_batch(y, "y")
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or bits not in (1, 2, 4, 8):
        raise ValueError(f"bits (L) must be 1, 2, 4 or 8 (a divisor of 8), got {bits!r}")
    if isinstance(leading_bit, bool) or not isinstance(leading_bit, numbers.Integral) or leading_bit not in (0, 1):
        raise ValueError(f"leading_bit (b) must be 0 or 1, got {leading_bit!r}")
    bits, leading_bit = int(bits), int(leading_bit)
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")

    field = (1 << bits) - 1
    # the fields' leading bits, in place: bit (k·L + L − 1) of every byte, k = 0 .. 8/L − 1
    leads = sum(1 << (k + bits - 1) for k in range(0, 8, bits))
    lead = batch & leads
    if leading_bit == 1:
        lead = lead ^ leads  # flip where the leading bit is 0 instead
    # spread each set leading bit over its whole field: (lead >> (L−1)) * (2^L − 1) has no carries
    mask = (lead >> (bits - 1)) * field
    out = batch ^ mask
    if channel_order == "sort":
        out = out.sort(dim=1, descending=True).values
    return restore_rank(out, single)
