"""Attacks on learnable image encryption: key-space counts and ciphertext-only reconstruction."""

from __future__ import annotations

from .feature_reconstruction import feature_reconstruction
from .keyspace import crossover, etc_log2, pixelwise_log2, tanaka_log2

__all__ = ["crossover", "etc_log2", "feature_reconstruction", "pixelwise_log2", "tanaka_log2"]
