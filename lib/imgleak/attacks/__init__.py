"""Ciphertext-only attacks on learnable image encryption: FR-, ITN- and GAN-Attack, and their data."""

from __future__ import annotations

from .feature_reconstruction import feature_reconstruction

__all__ = ["feature_reconstruction"]
