"""What a chapter's run says beside its paper, as data: the library finds, the chapter phrases.

>>> f = Finding("itn key mode", {"same": 0.71, "different": 0.04}, holds=True)
>>> f.numbers["same"], f.holds
(0.71, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One statement about a run: ``kind`` names it (each experiment module lists its kinds and
    their numbers), ``numbers`` holds the values the sentence quotes (read-only), and ``holds``
    says whether the paper's claim holds here (``None``: a fact or a caveat, not a claim)."""

    kind: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    holds: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", MappingProxyType(dict(self.numbers)))


__all__ = ["Finding"]
