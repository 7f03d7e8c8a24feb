"""The papers' published numbers as data: the tables the chapters compare with, exactly as printed."""

from __future__ import annotations

import pandas as pd
import pytest

from imgleak.experiments import attacks as ax
from imgleak.experiments import paper_values
from imgleak.experiments import rvt as rx

# The three tables as the chapters' modules held them in Python literals before they became data.
TABLE1 = pd.DataFrame.from_dict({
    "pixelwise_same": (0.4646, 0.1715, 0.2688),
    "pixelwise_different": (0.4628, 0.0425, 0.1527),
    "tanaka": (0.1079, 0.9147, 0.7152),
    "tn_model": (0.0263, 0.3142, 0.0793),
    "tn_gan": (0.1093, 0.7369, 0.0956),
}, orient="index", columns=["fr", "itn", "gan"]).rename_axis("scheme")

TABLE2 = pd.DataFrame.from_dict({
    "pixelwise_same": ["×", "×", "×", "○", "○", "High", "Low"],
    "pixelwise_different": ["×", "○", "×", "○", "○", "High", "Low"],
    "tanaka": ["○", "×", "×", "○", "○", "Low", "Low"],
    "tn_model": ["○", "○", "○", "×", "○", "High", "High"],
    "tn_gan": ["○", "×", "○", "○", "○", "High", "High"],
}, orient="index", columns=["fr", "itn", "gan", "model training", "model testing", "classification",
                            "cost"]).rename_axis("scheme")

ACCURACY = pd.DataFrame([
    ("MNIST", "ResNet-18", 99.20, 98.89, 28.99),
    ("MNIST", "ViT-B/16", 99.47, 99.15, 31.84),
    ("Fashion-MNIST", "ResNet-18", 94.12, 92.85, 40.10),
    ("Fashion-MNIST", "ViT-B/16", 94.95, 92.61, 56.19),
    ("CIFAR-10", "ResNet-18", 92.80, 87.56, 42.80),
    ("CIFAR-10", "ViT-B/16", 98.50, 92.04, 50.03),
], columns=["dataset", "model", "plain", "RVT", "permutation"])


def test_the_chapters_tables_are_unchanged():
    pd.testing.assert_frame_equal(ax.paper_table1(), TABLE1, check_exact=True)
    pd.testing.assert_frame_equal(ax.paper_table2(), TABLE2, check_exact=True)
    pd.testing.assert_frame_equal(rx.paper_accuracy(), ACCURACY, check_exact=True)


def test_robustness_marks_are_booleans():
    robust = ax.paper_robustness()
    assert robust.dtypes.eq(bool).all()
    assert robust.loc["pixelwise_different"].tolist() == [False, True, False]
    assert robust.sum().tolist() == [3, 2, 2]  # ○ per attack column of Table 2


def test_every_table_names_its_source():
    sources = paper_values.sources()
    assert sources["name"].tolist() == paper_values.names() == [
        "attacks_ssim", "attacks_robustness", "attacks_use", "rvt_accuracy"]
    assert paper_values.source("attacks_ssim").where.startswith("Table 1")
    assert paper_values.source("attacks_use").where.startswith("Table 2")
    assert "2010.06198" in paper_values.source("attacks_robustness").paper
    assert "2411.16207" in paper_values.source("rvt_accuracy").paper
    assert "README" in paper_values.source("rvt_accuracy").where


def test_tables_are_fresh_copies():
    table = paper_values.table("attacks_ssim")
    table.loc["tanaka", "itn"] = 0.0
    assert paper_values.table("attacks_ssim").loc["tanaka", "itn"] == 0.9147


def test_unknown_table_is_a_named_error():
    with pytest.raises(ValueError, match="name must be one of 'attacks_ssim'"):
        paper_values.table("table3")
    with pytest.raises(ValueError, match="name must be one of"):
        paper_values.source(["attacks_ssim"])  # unhashable: still a named error
