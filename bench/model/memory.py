"""``memory``: what an iterator holds while suspended, and what it allocates per item.

Per cell, in a worker process of its own (clean environment, like every
measuring process):

- **held**: bytes held by one live, suspended iterator (made, advanced by one
  item, not finished), traced by tracemalloc. Averaged over ``live``
  iterators alive at once, so that a list or a set growing in steps, or a
  free list, does not decide the figure. Measured twice: with the
  asyncgen hooks switched off (the object alone) and with the loop's own
  hooks, which keep a weak reference to every async generator they see;
- **peak**: tracemalloc's peak over those ``live`` iterators, loop hooks on:
  a server holding one iterator per connection;
- **allocations per item** and **bytes allocated per item** while draining,
  every block counted (freed or not) by memray, at two sizes; the
  difference quotient cancels the iterator's creation and its last step.
  tracemalloc only sees what is still alive, so it cannot count these;
  without memray the two columns stay empty.

Figures are stored as a pyperf file (``aiterbench_kind`` ``memory``), one
benchmark per cell and figure, one run per worker process.
"""

from __future__ import annotations

import dataclasses
import statistics

from .results import ResultError

#: Iterators alive at once for ``held`` and ``peak``.
LIVE = 10_000
#: The two sizes of the allocation slope.
SIZES = (1000, 3000)
MEMRAY_EXTRA = "pip install 'aiterbench[memory]'"


#: Benchmark suffixes in a memory file: figure -> (pyperf unit, what it is).
FIGURES = {
    "held": ("byte", "bytes per suspended iterator, the object alone (asyncgen hooks off)"),
    "held_hooked": ("byte", "bytes per suspended iterator with the loop's asyncgen hooks"),
    "peak": ("byte", "tracemalloc peak for LIVE suspended iterators alive at once, loop hooks on"),
    "allocs": ("integer", "blocks allocated (memray) while draining n items"),
    "allocated": ("byte", "bytes allocated (memray) while draining n items"),
}


@dataclasses.dataclass(frozen=True)
class Memory:
    """One cell's figures, per process: every list holds one value per worker process."""

    cell: object
    live: int
    held: tuple[float, ...]
    held_hooked: tuple[float, ...]
    peak: tuple[float, ...]
    #: Per process: blocks and bytes allocated per item (difference quotient over two sizes); empty without memray.
    allocs_per_item: tuple[float, ...] = ()
    bytes_per_item: tuple[float, ...] = ()
    sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (self.held and len(self.held) == len(self.held_hooked) == len(self.peak)):
            raise ValueError(f"{self.cell}: memory figures of unequal length")

    @property
    def hooks_cost(self) -> float:
        """Bytes the loop's asyncgen hooks add per iterator (median over processes)."""
        return statistics.median(self.held_hooked) - statistics.median(self.held)


def from_suite(suite, path: str = "memory file") -> list[tuple[object, list[Memory]]]:
    """A memory file's figures, grouped by environment: [(Environment, [Memory per cell])]."""
    try:
        return _from_suite(suite)
    except ResultError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ResultError(f"{path}: malformed memory file ({type(exc).__name__}: {exc})") from None


def _from_suite(suite) -> list[tuple[object, list[Memory]]]:
    from .cells import Cell
    from .identity import group, run_environments

    environment = run_environments(suite)
    per_run = []
    for bench in suite.get_benchmarks():
        cell, _, figure = Cell.parse_any(bench.get_name())
        if figure is None:
            raise ValueError(f"{bench.get_name()!r} names no memory figure")
        for k, run in enumerate(bench.get_runs()):
            if run.values:
                per_run.append((environment(run.get_metadata()), (cell, figure, k, run.values[0], run.get_metadata())))
    out = []
    for env, items in group(per_run):
        table: dict = {}
        for cell, figure, k, value, md in items:
            entry = table.setdefault(cell, {"live": int(md.get("live", LIVE)), "figures": {}})
            entry["figures"].setdefault(figure, {})[k] = value
        memories = []
        for cell, entry in sorted(table.items()):
            f = entry["figures"]
            held, hooked, peak = (tuple(v for _, v in sorted(f[x].items())) for x in ("held", "held_hooked", "peak"))
            sizes = sorted({int(x.split("@")[1]) for x in f if x.startswith("allocs@")})
            allocs = per_byte = ()
            if len(sizes) >= 2:
                n1, n2 = sizes[0], sizes[-1]
                keys = sorted(set(f[f"allocs@{n1}"]) & set(f[f"allocs@{n2}"]))
                allocs = tuple((f[f"allocs@{n2}"][k] - f[f"allocs@{n1}"][k]) / (n2 - n1) for k in keys)
                keys = sorted(set(f.get(f"allocated@{n1}", {})) & set(f.get(f"allocated@{n2}", {})))
                per_byte = tuple((f[f"allocated@{n2}"][k] - f[f"allocated@{n1}"][k]) / (n2 - n1) for k in keys)
            memories.append(Memory(cell, entry["live"], held, hooked, peak, allocs, per_byte, tuple(sizes)))
        out.append((env, memories))
    return out
