"""The "Why" section: an ``explain`` document as the report shows it, in tables shared by summary.md and the page."""

from __future__ import annotations

import dataclasses
import os

from ..analysis import Explanation, render_table

from ._model import Why

#: Rows of the functions' table (and one "other (N functions)" row for the rest), and of the bytecodes' table.
TOP_FUNCTIONS = 10
TOP_BYTECODES = 5


@dataclasses.dataclass(frozen=True)
class Table:
    caption: str
    head: tuple[str, ...]
    body: tuple[tuple[str, ...], ...]
    left: int = 1  # leading columns of text, left-aligned in markdown

    @property
    def text(self) -> tuple[int, ...]:
        """Every column of words (left-aligned on the page): the leading ones, callers and opcodes."""
        return tuple(i for i, h in enumerate(self.head) if i < self.left or h.startswith(("callers", "opcodes")))


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _signed(x: float) -> str:
    return f"{x:+,.1f}"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.0f}%"


def headline(e: Explanation) -> str:
    """The difference per item on each side, and its ratio, with the signal named."""
    b, n = e.base, e.new
    rel = f" ({100 * e.difference / b.per_item:+.1f}%)" if b.per_item else ""
    ratio = f"; NEW / BASE {e.ratio:.3f}x" if e.ratio is not None else ""
    return (f"Instructions per item, counted by callgrind at n = {e.sizes[0]}, {e.sizes[1]}: {named(b, 'BASE')} "
            f"{_num(b.per_item)}, {named(n, 'NEW')} {_num(n.per_item)}; NEW - BASE {_signed(e.difference)}{rel}{ratio}.")


def named(side, word: str) -> str:
    """``BASE class_anext/none/asyncio``; a side already labelled by its name (``base (3.11.7)``) as it is."""
    return side.label if side.label.lower().startswith(word.lower()) else f"{word} {side.label}"


def sides(e: Explanation) -> str:
    def one(s) -> str:
        return f"{s.label}: {s.environment.implementation} {s.python}" + (f" ({s.build})" if s.build else "")

    return f"BASE = {one(e.base)}; NEW = {one(e.new)}"


NOTE = ("Self instructions per item of each function, (I(n2) - I(n1)) / (n2 - n1) of its own instructions (callees "
        "not included); the rows and the other row add up to the difference. Callers: calls per item from each, BASE "
        "-> NEW. Counts do not see waiting, syscalls, caches or branch prediction, which timings do.")


def _callers(row) -> str:
    return "; ".join(f"{c.function} ({c.object}) {c.base:g} -> {c.new:g}" for c in row.callers) or "-"


def tables(e: Explanation, top: int = TOP_FUNCTIONS, bytecodes: int = TOP_BYTECODES) -> list[Table]:
    """By category (with the total), the largest functions with their callers, and the Python functions' bytecodes."""
    out = []
    body = [(c.category, _num(c.base), _num(c.new), _signed(c.difference), _share(c.share)) for c in e.categories
            if c.base or c.new]
    body.append(("total", _num(e.base.per_item), _num(e.new.per_item), _signed(e.difference),
                 _share(1.0 if e.difference else None)))
    out.append(Table("By category", ("category", "BASE", "NEW", "NEW - BASE", "share"), tuple(body)))
    rows = e.top(top)
    shown = len(rows) - (1 if rows and rows[-1].function.startswith("other (") else 0)
    out.append(Table(
        f"The {shown} largest differences by function, and the others",
        ("function", "object", "category", "BASE", "NEW", "NEW - BASE", "share", "callers (calls per item)"),
        tuple((r.function, r.object, r.category, _num(r.base), _num(r.new), _signed(r.difference), _share(r.share),
               _callers(r)) for r in rows), left=3))
    if e.bytecodes and bytecodes:
        tools = " / ".join(dict.fromkeys(t for t in e.bytecode_tools if t)) or "opcode"
        out.append(Table(
            f"Bytecode instructions per item, per Python function ({tools} opcode events)",
            ("Python function", "file:line", "BASE", "NEW", "NEW - BASE", "opcodes NEW - BASE"),
            tuple((r.function, f"{r.file}:{r.line}", _num(r.base), _num(r.new), _signed(r.difference),
                   " ".join(f"{op} {n - b:+g}" for op, b, n in r.opcodes if n != b) or "-")
                  for r in e.bytecodes[:bytecodes]), left=2))
    return out


def markdown(why: Why) -> str:
    """summary.md's part of one explanation."""
    e = why.explanation
    lines = [f"### {e.title}", "", headline(e), "", f"{sides(e)}; from {os.path.basename(why.source)}.", ""]
    for t in tables(e):
        lines += [f"{t.caption}:", "", render_table(t.head, t.body, "md", left=t.left).rstrip(), ""]
    return "\n".join(lines + [NOTE, ""])
