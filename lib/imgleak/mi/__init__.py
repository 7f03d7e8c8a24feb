"""Mutual-information estimators: plug-in histograms, MINE, and frozen image encoders."""

from .histogram import entropy, mutual_information, per_image_mutual_information
from .mine import NeuralMIDivergenceError, NeuralMIResult, estimate_mi, estimate_mi_many

__all__ = ["NeuralMIDivergenceError", "NeuralMIResult", "entropy", "estimate_mi", "estimate_mi_many",
           "mutual_information", "per_image_mutual_information"]
