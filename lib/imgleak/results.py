"""The base of every result object that long work returns (training, attacks, MI estimates).

A result is a dataclass holding the numbers, the settings that produced them (``settings``:
the run's frozen config as a dict) and, optionally, trained networks. ``to_dict()`` gives the
numbers and settings as plain Python values, without networks or weights; a subclass lists the
fields that hold those in ``_not_data``.

>>> from dataclasses import dataclass
>>> @dataclass
... class Fit(Result):
...     loss: list
...     settings: dict
>>> Fit([0.5, 0.25], {"epochs": 2}).to_dict()
{'loss': [0.5, 0.25], 'settings': {'epochs': 2}}
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


class Result:
    """Mixin for result dataclasses: :meth:`to_dict` without the fields named in ``_not_data``."""

    _not_data: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The numbers and settings as plain Python values (lists and dicts copied; no networks)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)  # type: ignore[arg-type]
                if f.name not in self._not_data}
