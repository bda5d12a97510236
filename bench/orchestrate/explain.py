"""``explain`` and ``ab --count --explain``: count under callgrind as ``count`` does, keeping every function.

Two cells on one interpreter, or one cell on two ``ab`` sides: each is counted
by ``count``'s own processes (a valgrind process per cell or side, two at a
time, hash seed 0, no address randomization), with the dumps parsed instead of
reduced to their totals, and the run without valgrind counting bytecodes. The
explanation is then pure analysis (``aiterbench.analysis.explain``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..analysis.explain import ExplainError, Explanation, SideCounts, explain
from ..model.identity import Environment
from .children import CHECK_TIMEOUT
from .count import Group, count_groups, groups


class ExplainFailed(RuntimeError):
    """A side could not be counted (its cell failed, or Ctrl-C came first); one line."""


def _environment(metadata: Mapping, cell, side: str = "", env: Mapping | None = None) -> Environment:
    from .._version import __version__
    from ..model.environ import recorded

    md = {**metadata, "aiterbench_version": __version__, "loop": cell.loop,
          "loop_version": metadata.get(f"aiterbench_loop_{cell.loop}", "?"),
          "aiterbench_environ": recorded(env or {})}  # as count files record it: what the caller passed on
    if side:
        md["aiterbench_side"] = side
    return Environment.from_metadata(md)


def side_counts(label: str, count, metadata: Mapping, side: str = "", env: Mapping | None = None) -> SideCounts:
    """What ``explain`` needs of one counted cell (a ``Count`` kept with ``explain=True``); ``env``: the
    environment the counting processes were given."""
    if count.profiles is None:
        raise ExplainError(f"{label}: counted without its profiles")
    bytecodes, tool = count.bytecodes if count.bytecodes else (None, "")
    return SideCounts(label, count.cell.name, tuple(count.sizes), tuple(count.profiles),
                      _environment(metadata, count.cell, side, env), bytecodes, tool)


def _counted(todo, sizes, modules, env, notes, check_timeout: float = CHECK_TIMEOUT):
    counted, failures, interrupted = count_groups(todo, sizes, modules, env, notes, explain=True,
                                                  check_timeout=check_timeout)
    if interrupted:
        raise KeyboardInterrupt
    if failures:
        group, reason = failures[0]
        raise ExplainFailed(f"{group.name}: {reason}")
    return counted


def explain_cells(base, new, sizes, modules, env, notes: Sequence[str] = (),
                  check_timeout: float = CHECK_TIMEOUT) -> Explanation:
    """NEW's cell against BASE's, on this interpreter, grouped into valgrind processes as ``count`` groups them
    (two cells of a loop share one), so that ``count -i BASE,NEW`` gives the same totals to the instruction: a
    cell's count moves by a few hundredths of a percent with the cells counted beside it in its process."""
    # The same cell twice is counted once (its repeat would be identical).
    counted = _counted(groups(list(dict.fromkeys((base, new)))), sizes, modules, env, notes, check_timeout)
    found = {c.cell: (c, md) for _, cs, md in counted for c in cs}
    sides = [side_counts(cell.name, *found[cell], env=env) for cell in (base, new)]
    return explain(*sides)


def side_label(probe) -> str:
    """``base (3.11.7)``: the side, and what sets it apart (its Python, or its path)."""
    what = [probe.version] if probe.version else []
    if getattr(probe.side, "path", None):
        what.append(probe.side.path)
    return f"{probe.side.name} ({', '.join(what)})" if what else probe.side.name


def explain_sides(cell, probes, sizes, modules, env, notes: Sequence[str] = (),
                  check_timeout: float = CHECK_TIMEOUT) -> Explanation:
    """One cell on the ``ab`` sides BASE and NEW, one valgrind process per side (both at once)."""
    counted = _counted([Group((cell,), p.side) for p in probes], sizes, modules, env, notes, check_timeout)
    by_side = {g.side.name: (cs[0], md) for g, cs, md in counted if cs}
    sides = [side_counts(side_label(p), *by_side[p.side.name], side=p.side.name, env=env) for p in probes]
    return explain(*sides)


def explain_ab(per_side: Mapping[str, Mapping], probes, cells, env: Mapping | None = None) -> list[tuple[str, Explanation]]:
    """``ab --count --explain``: an explanation per cell in ``cells`` from the counts ``ab`` already made."""
    out = []
    for cell in cells:
        try:
            sides = [side_counts(side_label(p), *per_side[p.side.name][cell], side=p.side.name, env=env)
                     for p in probes]
        except KeyError:
            continue  # not counted on both sides: it has no verdict to explain
        out.append((cell.name, explain(*sides)))
    return out


def explain_path(prefix: str, cell_name: str) -> str:
    """Where ``ab -o PREFIX --explain`` writes a cell's explain document."""
    return f"{prefix}-explain-{cell_name.replace('/', '-')}.json"


__all__ = ["ExplainFailed", "explain_ab", "explain_cells", "explain_path", "explain_sides", "side_counts"]
