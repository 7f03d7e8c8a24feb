"""Mutual-information estimators: plug-in histograms, MINE, and frozen image encoders."""

from .histogram import entropy, mutual_information, per_image_mutual_information
from .mine import MineDivergenceError, MineResult, estimate_mi, estimate_mi_many

__all__ = ["MineDivergenceError", "MineResult", "entropy", "estimate_mi", "estimate_mi_many", "mutual_information",
           "per_image_mutual_information"]
