"""``profile``'s table: the top functions with calls and time per item."""

from __future__ import annotations

from ..model.documents import dumps
from ..model.units import NS


def top_rows(result: dict, top: int) -> list[dict]:
    """The ``top`` functions by own time, with calls and times per item."""
    items = result["items"]
    rows = sorted(result["rows"], key=lambda r: (-r["self_s"], r["function"]))[:top]
    return [{"function": r["function"],
             "calls_per_item": None if r["calls"] is None else r["calls"] / items,
             "self_ns_per_item": r["self_s"] / items * NS, "cum_ns_per_item": r["cum_s"] / items * NS}
            for r in rows]


def format_profile(result: dict, top: int, fmt: str) -> str:
    from .table import render

    rows = top_rows(result, top)
    if fmt == "json":
        return dumps("profile", {"kind": "profile", "cell": result["cell"], "tool": result["tool"], "n": result["n"],
                           "iterators": result["repeat"], "items": result["items"],
                           "profiled_seconds": result["seconds"], "functions": rows})
    head = ("function", "calls/item", "own ns/item", "cumulative ns/item")
    body = [(r["function"], "-" if r["calls_per_item"] is None else f"{r['calls_per_item']:.6g}",
             f"{r['self_ns_per_item']:.1f}", f"{r['cum_ns_per_item']:.1f}") for r in rows]
    what = ("calls are exact; times include cProfile's cost per call" if result["tool"] == "cprofile"
            else "pyinstrument samples: no call counts, times from samples")
    foot = (f"{result['cell']}: {result['repeat']} iterators of {result['n']} items ({result['items']:,} items) "
            f"profiled with {result['tool']} in {result['seconds']:.2f} s; {what}. Rank functions with these "
            "figures; take ns/item from 'run'.\n")
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot
