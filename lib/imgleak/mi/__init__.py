"""Mutual-information estimators: plug-in histograms, MINE, and frozen image encoders."""

from .histogram import entropy, mutual_information, per_image_mutual_information
from .mine import MineDivergenceError, MineResult, estimate_mi

__all__ = ["MineDivergenceError", "MineResult", "entropy", "estimate_mi", "mutual_information",
           "per_image_mutual_information"]
