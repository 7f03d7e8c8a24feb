"""The library's scheme variants, the ones the scorecard and the chapters compare, described once (data only).

A :class:`Variant` is a name, the registered cipher it builds (:func:`imgleak.ciphers.get`) with
its parameters, the papers' label for tables, and the row it is under in the papers' tables
(:mod:`imgleak.experiments.paper_values`: the attacks chapter's scheme names, which also seed its
keys). What else a variant needs is declared by its cipher class: the attack networks shaped for
its structure (``attack_networks``) and whether its key is trained (``learned_key``).

:data:`VARIANTS` lists the variants with settings of their own; every other registered cipher is
a variant under its registered name with its defaults (:func:`imgleak.ciphers.variants`), so a
newly registered scheme is scored with no edit here.

>>> by_name = {v.name: v for v in VARIANTS}
>>> by_name["blockwise"].label, by_name["blockwise"].paper_row, dict(by_name["selective-3"].params)
("Tanaka's scheme", 'tanaka', {'bits': 3})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One scheme variant: ``name`` (the scorecard's, ``imgleak evaluate --scheme``), the registered
    ``cipher`` and its ``params``, the papers' ``label`` (``""``: tables show the name) and the
    ``paper_row`` of the papers' tables (``None``: in no paper table)."""

    name: str
    cipher: str
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    paper_row: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))  # a copy: the table cannot be changed through it


VARIANTS: tuple[Variant, ...] = (
    Variant("identity", "identity"),
    Variant("one_time_pad", "selective", {"bits": 8}),
    *(Variant(f"selective-{n}", "selective", {"bits": n}) for n in range(1, 8)),
    Variant("rvt-faithful", "rvt", {"mode": "faithful"}),
    Variant("rvt-invertible", "rvt", {"mode": "invertible"}),
    Variant("permutation-per-image", "permutation", {"per_image": True}),
    Variant("permutation-fixed", "permutation", {"per_image": False}),
    Variant("blockwise", "blockwise", {}, "Tanaka's scheme", "tanaka"),
    Variant("pixelwise-same", "pixelwise", {"mode": "same"}, "Pixel-wise, same key", "pixelwise_same"),
    Variant("pixelwise-different", "pixelwise", {"mode": "different"}, "Pixel-wise, different keys",
            "pixelwise_different"),
    Variant("etc", "etc", {"block": 16, "mode": "same"}, "EtC (block scrambling)", "etc"),
    Variant("tn_model", "tn_model", {}, "TN-model", "tn_model"),
    Variant("tn_gan", "tn_gan", {}, "TN-GAN", "tn_gan"),
)
"""The library's variants with settings of their own, controls first (``identity``, ``one_time_pad``:
ChaCha20 XOR of all 8 bits). EtC: 16-pixel blocks, one key for all images (the chapter may pass
another block size)."""


__all__ = ["VARIANTS", "Variant"]
