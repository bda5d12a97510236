"""Bytecode instructions executed per Python function: what stands beside callgrind's per-function counts.

``count_bytecodes(run)`` calls ``run()`` once and counts every bytecode
instruction executed on this thread, per function and opname;
``per_item`` turns the counts at two sizes into instructions per item, so the
fixed cost (creating the iterator, the first and the last call) cancels, as
it does in the callgrind figures.

How it counts, by Python version:

* 3.12 and later: ``sys.monitoring`` INSTRUCTION events, set globally for a
  free tool id (events of other threads are dropped). CPython gives no event
  for ``RESUME`` and ``END_FOR``; it gives ``EXTENDED_ARG`` an event of its own,
  which is dropped here, so an instruction counts once whatever its argument.
* 3.10 and 3.11: ``sys.settrace``, with ``f_trace_opcodes`` set on every
  ``'call'`` event (each resumption of a generator or coroutine is one). The
  'call' event stands in for ``RESUME`` on 3.11, so it is not counted either;
  an instruction with ``EXTENDED_ARG`` prefixes gets its one event at the first
  prefix, and counts under the instruction's own name.

Opnames are the unspecialized ones (``dis`` with ``adaptive=False``, that is
``co_code``), so counts do not depend on specialization; they do depend on the
Python version, whose compiler emits other instructions.

Counted: every Python frame on this thread from the moment counting starts to
the moment it stops, ``run``'s own frame included (its instructions are a fixed
cost, which ``per_item`` cancels); not counted: this module's frames, C code
(builtins, Cython, the loop's C parts). Cyclic garbage collection runs when it
would have: a finalizer written in Python it calls is counted like any other
code, so disable ``gc`` around ``run`` where that matters.

A function's key is ``(qualname, file, first line)``, stable across processes
and machines: ``co_qualname`` (``co_name`` on 3.10), the file shortened by
``_short_filename`` (the path from the top of its package, e.g.
``asyncio/base_events.py``, ``uvloop/__init__.py``, ``bench/measure/count.py``;
a file outside any package by its base name; ``<frozen ...>`` and other
non-paths as they are), and ``co_firstlineno``. Two functions with one key
(two lambdas on one line) share their counts.

Stdlib only, and ``dis`` is imported once the counting is over: this runs
inside measuring processes.
"""

from __future__ import annotations

import os
import sys
from _thread import get_ident
from collections.abc import Callable, Mapping

#: What count_bytecodes returns: (qualname, file, first line) -> {opname: times executed}.
Counts = dict[tuple[str, str, int], dict[str, int]]

#: sys.monitoring tool ids tried in turn, the first free one counting: the two no tool is named for first, so that
#: a profiler (cProfile takes PROFILER_ID from 3.12 on), coverage or a debugger started inside ``run`` finds its own.
_TOOL_IDS = (3, 4, 5, 2, 1, 0)
_TOOL_NAME = "aiterbench.bytecodes"


def count_bytecodes(run: Callable[[], object]) -> Counts:
    """Call ``run()`` once while counting every bytecode instruction executed in any Python function on this thread.

    Returns ``(qualname, file, first line) -> {opname: times executed}``,
    sorted by key and by opname. Whatever ``run`` raises propagates, after
    the tracing or monitoring is switched off and the previous trace function
    (3.10, 3.11) restored.
    """
    tables: dict[int, list[int]] = {}  # id(code) -> count per byte offset
    codes: dict[int, object] = {}  # id(code) -> code: held, so that no id is reused during the run
    if sys.version_info >= (3, 12):
        _monitored(run, tables, codes)
        return _aggregate(tables, codes, skip_extended_arg=True)
    _traced(run, tables, codes)
    return _aggregate(tables, codes, skip_extended_arg=False)


def _monitored(run, tables, codes) -> None:
    monitoring = sys.monitoring
    thread = get_ident()

    def on_instruction(code, offset, _id=id, _ident=get_ident):
        # The hot path: called once per instruction executed. A code object's hash
        # is computed anew each time (1-2 us on 3.12), its id is not.
        if _ident() != thread:
            return
        table = tables.get(_id(code))
        if table is None:
            table = tables[_id(code)] = [0] * len(code.co_code)
            codes[_id(code)] = code
        table[offset] += 1

    tool = _free_tool_id(monitoring)
    try:
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, on_instruction)
        # Globally: a code object is instrumented when it next runs or resumes; local events would miss it.
        monitoring.set_events(tool, monitoring.events.INSTRUCTION)
        run()
    finally:
        # All three, explicitly: free_tool_id clears the events and the callback only from 3.14 on.
        monitoring.set_events(tool, 0)
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, None)
        monitoring.free_tool_id(tool)


def _free_tool_id(monitoring) -> int:
    for tool in _TOOL_IDS:
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, _TOOL_NAME)
            return tool
    raise RuntimeError("counting bytecodes needs a free sys.monitoring tool id and all six are in use: "
                       + ", ".join(f"{tool}={monitoring.get_tool(tool)}" for tool in range(6)))


def _traced(run, tables, codes) -> None:
    here = _HERE

    def tracer(frame, event, arg, _id=id):
        if event == "opcode":  # the hot path: once per instruction executed
            code = frame.f_code
            table = tables.get(_id(code))
            if table is None:
                table = tables[_id(code)] = [0] * len(code.co_code)
                codes[_id(code)] = code
            table[frame.f_lasti] += 1  # a byte offset into co_code, on 3.10 and 3.11 alike
            return tracer
        if event == "call":  # a new frame, or a generator or coroutine resumed: each needs its flag
            if frame.f_code.co_filename == here:
                return None
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(previous)


def _aggregate(tables, codes, skip_extended_arg: bool) -> Counts:
    import dis

    extended_arg = dis.opmap["EXTENDED_ARG"]
    counts: Counts = {}
    for key_id, table in tables.items():
        code = codes[key_id]
        if code.co_filename == _HERE:
            continue
        raw = code.co_code  # the unspecialized, uninstrumented bytecode: dis's with adaptive=False
        ops: dict[str, int] = {}
        for offset, times in enumerate(table):
            if not times:
                continue
            op = raw[offset]
            if op == extended_arg:
                if skip_extended_arg:  # its own event, besides its instruction's
                    continue
                while op == extended_arg:  # the instruction's one event, at its first prefix
                    offset += 2
                    op = raw[offset]
            name = dis.opname[op]
            ops[name] = ops.get(name, 0) + times
        if ops:
            key = (getattr(code, "co_qualname", code.co_name), _short_filename(code.co_filename), code.co_firstlineno)
            merged = counts.setdefault(key, {})
            for name, times in ops.items():
                merged[name] = merged.get(name, 0) + times
    return {key: dict(sorted(counts[key].items())) for key in sorted(counts)}


_SHORT: dict[str, str] = {}


def _short_filename(filename: str) -> str:
    """The path from the top of the file's package (the highest directory with an ``__init__.py`` above it).

    ``.../lib/python3.12/asyncio/base_events.py`` -> ``asyncio/base_events.py``;
    ``.../site-packages/uvloop/__init__.py`` -> ``uvloop/__init__.py``; a
    module outside any package -> its base name; ``<frozen os>``, ``<string>``
    and other names that are not absolute paths -> as they are.
    """
    short = _SHORT.get(filename)
    if short is None:
        if os.path.isabs(filename):
            directory, name = os.path.split(filename)
            parts = [name]
            while os.path.isfile(os.path.join(directory, "__init__.py")):
                directory, package = os.path.split(directory)
                parts.append(package)
            short = "/".join(reversed(parts))
        else:
            short = filename
        _SHORT[filename] = short
    return short


def per_item(counts_small: Mapping, counts_large: Mapping, n_small: int, n_large: int) -> dict:
    """Instructions per item, per function and opname: ``(large - small) / (n_large - n_small)``, as floats.

    The fixed cost (creating the iterator, the first and the last call, the
    loop's start and stop) cancels; a function or opname whose count is the
    same at both sizes is left out. Sorted by key and by opname.
    """
    if n_large == n_small:
        raise ValueError(f"per_item needs two different sizes, got {n_small} twice")
    items = n_large - n_small
    result: dict = {}
    for key in sorted(set(counts_small) | set(counts_large)):
        small, large = counts_small.get(key, {}), counts_large.get(key, {})
        ops = {}
        for name in sorted(set(small) | set(large)):
            difference = large.get(name, 0) - small.get(name, 0)
            if difference:
                ops[name] = difference / items
        if ops:
            result[key] = ops
    return result


def to_rows(counts: Mapping) -> list[dict]:
    """Counts (or per-item counts) as JSON rows: ``{"function", "file", "line", "ops"}``, in key order."""
    return [{"function": function, "file": file, "line": line, "ops": dict(ops)}
            for (function, file, line), ops in sorted(counts.items())]


def from_rows(rows: list[dict]) -> dict:
    """The counts ``to_rows`` wrote."""
    return {(row["function"], row["file"], row["line"]): dict(row["ops"]) for row in rows}


_HERE = count_bytecodes.__code__.co_filename  # this module's frames are never counted
