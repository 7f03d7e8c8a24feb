"""Cells: the per-process key cache keeps a key per scheme, seed and budget (learned keys depend on the budget)."""

from __future__ import annotations

from dataclasses import replace

from imgleak import ciphers
from imgleak.keys import Key
from imgleak.scorecard import cells
from imgleak.scorecard.base import BUDGETS, Measurement, Subject
from imgleak.scorecard.sources import ImageSource


def test_the_key_cache_keeps_one_key_per_budget_in_one_process(monkeypatch):
    monkeypatch.setattr(cells, "_KEYS", type(cells._KEYS)())
    made = []

    def train_key(seed, context):  # a stand-in for a learned key: it depends on the budget's epochs
        made.append((seed, context.budget.tn_epochs))
        return Key.from_seed(1000 * seed + context.budget.tn_epochs)

    def keyed(subject, context):
        subject.key(context.seed, context)
        return [Measurement("keyed", 0.0, "", "none")]

    subject = Subject("learned", ciphers.get("selective", bits=8), make_key=train_key, trained_keys=True)
    quick, longer = BUDGETS["quick"], replace(BUDGETS["quick"], tn_epochs=2)  # same name and crops, other training
    records = [cells.run_cell(cells.Cell(subject, "keyed", keyed, 0, budget, ImageSource(), "cpu"))
               for budget in (quick, longer, quick, longer)]
    assert [r["error"] for r in records] == [""] * 4
    assert made == [(0, 1), (0, 2)]  # one training per budget, the repeats come from the cache
    fingerprints = [r["key_fingerprint"] for r in records]
    assert fingerprints[0] == fingerprints[2] != fingerprints[1] == fingerprints[3]
