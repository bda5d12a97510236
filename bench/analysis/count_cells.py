"""A count file's cells as figures: instructions per item, and the cell each one's ratio is to (``report``)."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Mapping

from ..model.cells import Cell
from ..model.results import CellData, ResultError
from .table import reference_of


@dataclasses.dataclass(frozen=True)
class CellCount:
    """One cell's instruction count in one environment (``count`` / ``ab --count`` files)."""

    cell: Cell
    #: (I(n2) - I(n1)) / (n2 - n1); the median when files of one environment counted the cell more than once.
    per_item: float
    sizes: tuple[int, int]  # of the first count
    instructions: tuple[int, int]  # the counted calls' totals at those sizes
    repeats: int  # how many counts of the cell were pooled
    #: The cell its ratio is to, as timing ratios choose it (``table.reference_of``); None when not counted.
    reference: Cell | None = None
    #: The cell's metadata as its count files recorded it (family, loop_version, aiterbench_version, ...).
    metadata: Mapping[str, object] = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.repeats < 1 or len(self.sizes) != 2 or self.sizes[0] >= self.sizes[1]:
            raise ValueError(f"{self.cell.name}: a count needs two increasing sizes and at least one repeat")


def count_cells(cells: Mapping[Cell, CellData], source: str = "count") -> dict[Cell, CellCount]:
    """Per cell of a count ResultSet's ``cells``: its instructions per item; ResultError (one line, naming
    ``source``) for a count that does not hold exactly two sizes."""
    out = {}
    for cell, data in cells.items():
        per_item, first = [], None
        for by_n in data.per_round.values():
            if len(by_n) != 2:
                raise ResultError(f"{source}: {cell.name} has a count at {len(by_n)} sizes, expected 2 "
                                  "(I(n2) - I(n1)) / (n2 - n1) needs exactly two")
            (n1, v1), (n2, v2) = sorted(by_n.items())
            i1, i2 = round(v1 * n1), round(v2 * n2)  # pyperf stores the total over n
            per_item.append((i2 - i1) / (n2 - n1))
            first = first or ((n1, n2), (i1, i2))
        if first is None:
            continue
        out[cell] = CellCount(cell, statistics.median(per_item), first[0], first[1], len(per_item),
                              metadata=data.metadata)
    return {cell: dataclasses.replace(c, reference=ref if (ref := reference_of(cell, cells)) in out and ref != cell
                                      else None)
            for cell, c in sorted(out.items())}
