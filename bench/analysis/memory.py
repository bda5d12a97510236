"""``memory``'s tables: median over processes, with the range where they differ."""

from __future__ import annotations

import statistics

from ..model.documents import dumps
from ..model.memory import LIVE, MEMRAY_EXTRA, Memory
from ..model.results import KIND_MEMORY


def _spread(values) -> str:
    """The median, and the range over processes when they differ."""
    if not values:
        return "-"
    med = statistics.median(values)
    lo, hi = min(values), max(values)
    text = f"{med:,.1f}" if abs(med) < 100 else f"{med:,.0f}"
    if hi - lo > max(1e-9, 0.005 * abs(med)):
        text += f" [{lo:,.1f}, {hi:,.1f}]" if abs(med) < 100 else f" [{lo:,.0f}, {hi:,.0f}]"
    return text


def rows(memories: list[Memory]) -> list[dict]:
    """One record per cell, medians over processes, as JSON and the tables use them."""
    out = []
    for m in memories:
        out.append({
            "cell": m.cell.name, "processes": len(m.held), "live": m.live,
            "held_bytes": statistics.median(m.held), "held_with_hooks_bytes": statistics.median(m.held_hooked),
            "peak_bytes": statistics.median(m.peak), "peak_per_iterator_bytes": statistics.median(m.peak) / m.live,
            "allocations_per_item": statistics.median(m.allocs_per_item) if m.allocs_per_item else None,
            "bytes_allocated_per_item": statistics.median(m.bytes_per_item) if m.bytes_per_item else None,
            "sizes": list(m.sizes),
            "per_process": {"held": list(m.held), "held_with_hooks": list(m.held_hooked), "peak": list(m.peak),
                            "allocations_per_item": list(m.allocs_per_item),
                            "bytes_allocated_per_item": list(m.bytes_per_item)},
        })
    return out


def memory_table(memories: list[Memory]) -> tuple[tuple[str, ...], list[tuple[str, ...]], str]:
    """(head, rows as text, footnote) of the memory table."""
    live = memories[0].live if memories else LIVE
    head = ("cell", "held B", "held+hooks B", f"peak for {live:,} MB", "allocs/item", "B allocated/item")
    body = [(m.cell.name, _spread(m.held), _spread(m.held_hooked), f"{statistics.median(m.peak) / 1e6:.2f}",
             _spread(m.allocs_per_item), _spread(m.bytes_per_item)) for m in memories]
    foot = (f"held: bytes per live suspended iterator (tracemalloc, mean over {live:,} alive at once), alone and with "
            "the loop's asyncgen hooks; allocs and bytes per item while draining, every block counted by memray, "
            "(A(n2) - A(n1)) / (n2 - n1); median over processes, [range] where they differ.\n")
    if any(not m.allocs_per_item for m in memories):
        foot += f"Empty allocation columns: memray is not installed ({MEMRAY_EXTRA}).\n"
    return head, body, foot


def format_memory(memories: list[Memory], fmt: str) -> str:
    """The memory table (text, md) or document (json) of one environment."""
    from .table import render

    if fmt == "json":
        return dumps("memory", {"kind": KIND_MEMORY, "cells": rows(memories)})
    head, body, foot = memory_table(memories)
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot
