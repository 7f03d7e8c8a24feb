"""The error every loader of pretrained weights raises when they cannot be had (offline, not cached).

>>> issubclass(WeightsUnavailableError, RuntimeError)
True
"""

from __future__ import annotations


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable here; the message says how to get them."""


__all__ = ["WeightsUnavailableError"]
