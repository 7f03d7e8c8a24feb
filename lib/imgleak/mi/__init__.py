"""Mutual-information estimators: plug-in histograms (:mod:`imgleak.mi.histogram`)."""

from .histogram import entropy, mutual_information, per_image_mutual_information

__all__ = ["entropy", "mutual_information", "per_image_mutual_information"]
