"""Struct-of-arrays records: the generator's only in-memory representation of rows.

A dataclass whose fields are equally long numpy arrays, with masking and concatenation. Keeping
rows columnar is what lets the generator handle millions of invoices per month with numpy
kernels instead of Python objects.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Self

import numpy as np


class Records:
    """Base for frozen dataclasses of parallel numpy arrays."""

    def subset(self, rows: np.ndarray) -> Self:
        """The rows selected by a boolean mask or an index array, in that order."""
        return type(self)(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        if not parts:
            raise ValueError(f"{cls.__name__}.concat needs at least one part (dtypes come from it)")
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))
