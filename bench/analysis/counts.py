"""``count``'s table: instructions per item, and the totals they came from."""

from __future__ import annotations

from ..model.documents import dumps


def format_counts(rs, fmt: str) -> str:
    """The table of a count file: instructions per item, and the totals it came from."""
    rows = []
    for cell, data in rs.cells.items():
        (by_n,) = data.per_round.values() if len(data.per_round) == 1 else (next(iter(data.per_round.values())),)
        (n1, v1), (n2, v2) = sorted(by_n.items())[:2]
        i1, i2 = round(v1 * n1), round(v2 * n2)
        rows.append((cell.name, (i2 - i1) / (n2 - n1), n1, i1, n2, i2))
    if fmt == "json":
        return dumps("count", {"kind": "count", "cells": [
            {"cell": r[0], "instructions_per_item": r[1], "sizes": [r[2], r[4]], "instructions": [r[3], r[5]]}
            for r in rows]})
    from .table import render

    head = ("cell", "instructions/item", "sizes", "instructions (counted calls)")
    body = [(r[0], f"{r[1]:.1f}", f"{r[2]},{r[4]}", f"{r[3]:,} / {r[5]:,}") for r in rows]
    foot = ("Instructions per item: (I(n2) - I(n1)) / (n2 - n1), counted by callgrind inside the iteration only; "
            "deterministic for one interpreter build, blind to waiting, caches and branches.\n")
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot
