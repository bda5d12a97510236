"""``explain``: what one per-item instruction count pays that another does not, function by function.

Each side (a cell, or one cell on one ``ab`` side) was counted by callgrind at
two sizes; a function's self instructions per item is (I(n2) - I(n1)) /
(n2 - n1) of its self cost in the two dumps, so what the two counted calls
share cancels, as it does for ``count``'s total. The rows are kept as integer
differences of self costs: over every function they add up *exactly* to the
difference of the totals, so the rows shown plus one "other (N functions)" row
equal the difference ``count`` gives for the same cells. Functions are matched
across sides by name and object, the object named without its version
(``libpython``, not ``libpython3.12.so.1.0``), so two Pythons line up.

Beside them, the bytecode instructions each Python function executed per item
(opcode events: ``sys.monitoring`` from 3.12, ``sys.settrace`` before), counted
the same way in the run without valgrind: the interpreter loop's row says how
many machine instructions, these say which Python code paid them.

Pure functions over parsed dumps; nothing is measured here.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import Mapping, Sequence

from ..model.documents import VERSION, body, document
from ..model.identity import Environment
from .callgrind import Profile, object_name

#: The categories, in the order they are shown.
CATEGORIES = ("allocation and freeing", "exception objects", "interpreter loop", "generator and coroutine machinery",
              "event loop", "thread-state and runtime look-ups", "other")


@dataclasses.dataclass(frozen=True)
class Rule:
    """A function is in ``category`` when its object matches one of ``objects`` (globs on the short object name;
    empty: any object) and its name matches ``pattern`` (a regular expression, searched)."""

    category: str
    pattern: str
    objects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        re.compile(self.pattern)

    def matches(self, function: str, obj: str) -> bool:
        if self.objects and not any(fnmatch.fnmatchcase(obj, g) for g in self.objects):
            return False
        return re.search(self.pattern, function) is not None


#: The one table of categories: the first rule that matches a function (by name and object) gives its category.
#: The order is the point: ``StopIteration_dealloc`` frees an exception object (an exception's cost, not the
#: allocator's), ``async_gen_asend_dealloc`` is the generator machinery's, ``_PyObject_Free`` the allocator's.
RULES = (
    # Thread state through thread-local storage: with a shared libpython each look-up goes through
    # ``__tls_get_addr`` (a static build reads it at a fixed offset); the runtime's own globals and config.
    Rule("thread-state and runtime look-ups",
         r"^(__tls_get_addr|___tls_get_addr|update_get_addr|_dl_tlsdesc\w*|_?PyThreadState_(Get|GET|GetCurrent|"
         r"GetUnchecked|UncheckedGet)\w*|_PyInterpreterState_GET|PyInterpreterState_Get|PyGILState_\w+|"
         r"_Py_GetConfig|_PyRuntime\w*|_Py_EnsureTstateNotNULL\w*)$"),
    Rule("exception objects",
         r"(Exception|StopIteration|StopAsyncIteration|^_?PyErr_|^_PyExc_|^PyException|^BaseException|"
         r"^_PyGen_(Set|Fetch)StopIterationValue$|^_PyTraceBack|^PyTraceBack|^tb_|^exc_|_exc_info|"
         r"^_PyErr_StackItem|^get_exc_state)"),
    Rule("generator and coroutine machinery",
         r"^(gen_|_PyGen_|PyGen_|async_gen|_PyAsyncGen|PyAsyncGen|coro_|_PyCoro|PyCoro|compute_cr_origin|"
         r"make_gen|_Py_MakeCoro|anextawaitable|_PyEval_GetAIter|_PyEval_GetANext|PyIter_Send|_PyGen\w*|"
         r"gen_send_ex\w*|_gen_throw|_PyCoroWrapper\w*)"),
    # The event loop's C code: asyncio's accelerator and the loops' extensions, by object; by name as well for
    # a build that links ``_asyncio`` into the interpreter. Its Python code is the interpreter loop's.
    Rule("event loop", r".", ("_asyncio", "uvloop/*", "rloop/*", "_rloop*", "select", "_selectors", "_socket")),
    Rule("event loop",
         r"^(task_step\w*|task_wakeup\w*|TaskObj_\w+|FutureObj_\w+|FutureIter_\w+|future_\w+|_asyncio_\w+|"
         r"enter_task|leave_task|swap_current_task|call_soon|get_running_loop|get_event_loop|"
         r"TaskStepMethWrapper_\w+|register_task|unregister_task)$", ("libpython", "python")),
    Rule("allocation and freeing",
         r"(alloc|Alloc|dealloc|Dealloc|_Py_NewReference|_Py_ForgetReference|[Ff]ree(_|$|List|list)|[Mm]alloc|"
         r"^free$|^cfree$|^_int_free|^_int_malloc|_PyObject_GC_(New|NewVar|Link|Track|UnTrack)|"
         r"PyObject_GC_(Del|Track|UnTrack|IsTracked)|^pymalloc|^_PyObject_Init|^PyObject_Init|_Py_Dealloc|"
         r"^_PyTuple_MaybeUntrack|^gc_alloc|^_PyMem_|^PyMem_|^_PyTraceMalloc|^arena|^new_arena|^insert_to_"
         r"(used|free)pool|^address_in_range|^_PyObject_Free|^clear_freelist|^maybe_freelist)"),
    Rule("interpreter loop",
         r"^(_PyEval_EvalFrameDefault|_PyEval_\w+|PyEval_\w+|_PyFrame_\w+|_PyEvalFrame\w*|_Py_Specialize\w*|"
         r"_PyThreadState_(Push|Pop)Frame|_PyThreadState_BumpFramePointer\w*|clear_thread_frame|"
         r"initialize_locals|_Py_call_instrumentation\w*|_Py_Instrument\w*|_PyCode_\w+|_Py_HandlePending|"
         r"_PyJIT_\w+|_JIT_\w+|unicode_eq|_Py_EnterRecursive\w*|_Py_LeaveRecursive\w*)$", ("libpython", "python")),
)


def category(function: str, obj: str) -> str:
    """The category of a function (its name, without callgrind's recursion suffix) in an object (short name)."""
    for rule in RULES:
        if rule.matches(function, obj):
            return rule.category
    return "other"


class ExplainError(ValueError):
    """An explain document that cannot be read, or two sides that cannot be explained; one line."""


@dataclasses.dataclass(frozen=True)
class Caller:
    """Calls per item on each side from ``function`` (in ``object``) to the row it is listed under."""

    function: str
    object: str
    base: float
    new: float


@dataclasses.dataclass(frozen=True)
class FunctionRow:
    """One function's self instructions per item on each side, their difference and its share of the total."""

    function: str
    object: str
    category: str
    base: float
    new: float
    difference: float
    share: float | None  # difference / the total difference; None when that is zero
    callers: tuple[Caller, ...] = ()
    #: Exact integers behind the figures: I(n2) - I(n1) of its self cost on each side.
    deltas: tuple[int, int] = (0, 0)


@dataclasses.dataclass(frozen=True)
class CategoryRow:
    category: str
    base: float
    new: float
    difference: float
    share: float | None


@dataclasses.dataclass(frozen=True)
class BytecodeRow:
    """Bytecode instructions per item a Python function executed on each side, and the opcodes that differ most."""

    function: str
    file: str
    line: int
    base: float
    new: float
    difference: float
    opcodes: tuple[tuple[str, float, float], ...] = ()  # (opname, base, new), largest difference first


@dataclasses.dataclass(frozen=True)
class ExplainSide:
    label: str  # what this side is: its cell, or "base"/"new" with its Python
    cell: str
    python: str
    build: str
    per_item: float
    environment: Environment
    instructions: tuple[int, int] = (0, 0)  # the two dumps' totals


@dataclasses.dataclass(frozen=True)
class Explanation:
    base: ExplainSide
    new: ExplainSide
    sizes: tuple[int, int]
    functions: tuple[FunctionRow, ...]  # every function, the largest difference first
    categories: tuple[CategoryRow, ...]
    bytecodes: tuple[BytecodeRow, ...] = ()
    #: How the bytecodes were counted on each side ("sys.monitoring", "sys.settrace"), or "" when they were not.
    bytecode_tools: tuple[str, str] = ("", "")

    def __post_init__(self) -> None:
        if sum(r.deltas[0] for r in self.functions) != self.base.instructions[1] - self.base.instructions[0] or \
                sum(r.deltas[1] for r in self.functions) != self.new.instructions[1] - self.new.instructions[0]:
            raise ExplainError("the functions' rows do not add up to the counted totals")

    @property
    def difference(self) -> float:
        return self.new.per_item - self.base.per_item

    @property
    def ratio(self) -> float | None:
        return self.new.per_item / self.base.per_item if self.base.per_item else None

    @property
    def title(self) -> str:
        """``asyncgen/none/asyncio against class_anext/none/asyncio``, or for one cell on two sides
        ``asyncgen/none/asyncio: new (3.12.1) against base (3.11.7)``."""
        if self.base.cell == self.new.cell and self.base.label != self.base.cell:
            return f"{self.new.cell}: {self.new.label} against {self.base.label}"
        return f"{self.new.label} against {self.base.label}"

    def top(self, k: int) -> tuple[FunctionRow, ...]:
        """The ``k`` largest rows and one "other (N functions)" row for the rest: they add up to ``difference``.

        When some rows differ, only those are shown (the others are in "other"); two identical sides show
        their costliest functions."""
        differing = sum(1 for r in self.functions if r.deltas[0] != r.deltas[1])
        k = min(k, differing) if differing else k
        shown, rest = self.functions[:k], self.functions[k:]
        if not rest:
            return shown
        steps = self.sizes[1] - self.sizes[0]
        deltas = (sum(r.deltas[0] for r in rest), sum(r.deltas[1] for r in rest))
        other = _row(f"other ({len(rest)} functions)", "", "other", deltas, steps, self._total_delta)
        return shown + (other,)

    @property
    def _total_delta(self) -> int:
        return sum(r.deltas[1] for r in self.functions) - sum(r.deltas[0] for r in self.functions)


def _row(function: str, obj: str, cat: str, deltas: tuple[int, int], steps: int, total_delta: int,
         callers: tuple[Caller, ...] = ()) -> FunctionRow:
    diff = deltas[1] - deltas[0]
    return FunctionRow(function, obj, cat, deltas[0] / steps, deltas[1] / steps, diff / steps,
                       diff / total_delta if total_delta else None, callers, deltas)


@dataclasses.dataclass(frozen=True)
class SideCounts:
    """What one side's counting gave: the two dumps, the two bytecode counts, and what the side is."""

    label: str
    cell: str
    sizes: tuple[int, int]
    profiles: tuple[Profile, Profile]
    environment: Environment
    bytecodes: tuple[Mapping, Mapping] | None = None  # (qualname, file, line) -> {opname: count}, per size
    bytecode_tool: str = ""


def _short(mapping: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for (fn, obj), cost in mapping.items():
        key = (fn, object_name(obj))
        out[key] = out.get(key, 0) + cost
    return out


def _short_calls(profile: Profile) -> dict:
    out: dict = {}
    for (caller, callee), (count, _) in profile.calls.items():
        key = ((caller[0], object_name(caller[1])), (callee[0], object_name(callee[1])))
        out[key] = out.get(key, 0) + count
    return out


def _deltas(side: SideCounts) -> dict[tuple[str, str], int]:
    small, large = (_short(p.self_cost) for p in side.profiles)
    return {k: large.get(k, 0) - small.get(k, 0) for k in small.keys() | large.keys()}


def _call_deltas(side: SideCounts) -> dict:
    small, large = (_short_calls(p) for p in side.profiles)
    return {k: large.get(k, 0) - small.get(k, 0) for k in small.keys() | large.keys()}


#: Rows that get their callers listed.
CALLER_ROWS = 12
#: Callers listed per row.
CALLERS = 3


def explain(base: SideCounts, new: SideCounts) -> Explanation:
    """The difference of ``new`` from ``base``, per function, per category and per Python function."""
    if tuple(base.sizes) != tuple(new.sizes):
        raise ExplainError(f"the sides were counted at different sizes ({base.sizes} and {new.sizes})")
    steps = base.sizes[1] - base.sizes[0]
    db, dn = _deltas(base), _deltas(new)
    total_delta = sum(dn.values()) - sum(db.values())
    keys = [k for k in db.keys() | dn.keys() if db.get(k, 0) or dn.get(k, 0)]
    # Largest difference first; then the largest cost (two identical sides still list what costs most); then
    # the name: a repeat gives the same order.
    keys.sort(key=lambda k: (-abs(dn.get(k, 0) - db.get(k, 0)), -max(abs(dn.get(k, 0)), abs(db.get(k, 0))), k))
    # Functions whose self cost is constant per counted call (same in both dumps) cancel: zero per item, kept
    # out of the rows but still in the totals (their deltas are zero).
    calls_b, calls_n = _call_deltas(base), _call_deltas(new)
    rows = []
    for i, key in enumerate(keys):
        callers = _callers(key, calls_b, calls_n, steps) if i < CALLER_ROWS else ()
        rows.append(_row(key[0], key[1], category(*key), (db.get(key, 0), dn.get(key, 0)), steps, total_delta,
                         callers))
    cats = []
    for cat in CATEGORIES:
        members = [r for r in rows if r.category == cat]
        d = (sum(r.deltas[0] for r in members), sum(r.deltas[1] for r in members))
        cats.append(CategoryRow(cat, d[0] / steps, d[1] / steps, (d[1] - d[0]) / steps,
                                (d[1] - d[0]) / total_delta if total_delta else None))
    return Explanation(_side(base, steps), _side(new, steps), tuple(base.sizes), tuple(rows), tuple(cats),
                       _bytecode_rows(base, new, steps), (base.bytecode_tool, new.bytecode_tool))


def _side(side: SideCounts, steps: int) -> ExplainSide:
    totals = (side.profiles[0].total, side.profiles[1].total)
    env = side.environment
    return ExplainSide(side.label, side.cell, env.python_version, env.build, (totals[1] - totals[0]) / steps, env,
                       totals)


def _callers(key, calls_b: Mapping, calls_n: Mapping, steps: int) -> tuple[Caller, ...]:
    per = {}
    for source, i in ((calls_b, 0), (calls_n, 1)):
        for (caller, callee), d in source.items():
            if callee == key and d:
                per.setdefault(caller, [0, 0])[i] = d
    ranked = sorted(per.items(), key=lambda kv: (-abs(kv[1][1] - kv[1][0]), -max(kv[1]), kv[0]))
    return tuple(Caller(c[0], c[1], d[0] / steps, d[1] / steps) for c, d in ranked[:CALLERS])


#: Python functions listed with their opcodes.
OPCODES = 5


def _bytecode_rows(base: SideCounts, new: SideCounts, steps: int) -> tuple[BytecodeRow, ...]:
    if base.bytecodes is None or new.bytecodes is None:
        return ()

    def per_function(side: SideCounts) -> dict:
        out: dict = {}
        for i, counts in enumerate(side.bytecodes):
            for (qualname, file, line), ops in counts.items():
                entry = out.setdefault((qualname, file), [line, {}, {}])
                for op, n in ops.items():
                    entry[1 + i][op] = entry[1 + i].get(op, 0) + n
        return {k: (v[0], {op: v[2].get(op, 0) - v[1].get(op, 0) for op in v[1].keys() | v[2].keys()})
                for k, v in out.items()}

    fb, fn = per_function(base), per_function(new)
    rows = []
    for key in fb.keys() | fn.keys():
        ob, on = fb.get(key, (0, {}))[1], fn.get(key, (0, {}))[1]
        b, n = sum(ob.values()), sum(on.values())
        if not b and not n:
            continue  # run once per counted call whatever the size: no cost per item
        ops = sorted(((op, ob.get(op, 0) / steps, on.get(op, 0) / steps) for op in ob.keys() | on.keys()
                      if ob.get(op, 0) or on.get(op, 0)), key=lambda o: (-abs(o[2] - o[1]), -max(o[1], o[2]), o[0]))
        line = fn.get(key, fb.get(key))[0]
        rows.append(BytecodeRow(key[0], key[1], line, b / steps, n / steps, (n - b) / steps, tuple(ops[:OPCODES])))
    rows.sort(key=lambda r: (-abs(r.difference), -max(r.base, r.new), r.function, r.file))
    return tuple(rows)


# -- formats ---------------------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _signed(x: float) -> str:
    return f"{x:+,.1f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.0f}%"


def headline(e: Explanation) -> str:
    ratio = f", x{e.ratio:.3f}" if e.ratio is not None else ""
    rel = f" ({100 * e.difference / e.base.per_item:+.1f}%{ratio})" if e.base.per_item else ""
    return (f"instructions per item (callgrind, n={e.sizes[0]},{e.sizes[1]}): {e.base.label} {_num(e.base.per_item)}, "
            f"{e.new.label} {_num(e.new.per_item)}: {_signed(e.difference)}{rel}")


def _sides_line(e: Explanation) -> str:
    def one(s: ExplainSide) -> str:
        return f"{s.label}: {s.environment.implementation} {s.python}" + (f" ({s.build})" if s.build else "")

    return f"BASE = {one(e.base)}; NEW = {one(e.new)}"


def _tables(e: Explanation, top: int, fmt: str) -> str:
    from .table import render

    def code(name: str) -> str:  # markdown would read __tls_get_addr as bold and <locals> as a tag
        return f"`{name}`" if fmt == "md" and name else name

    out = []
    head = ("category", "BASE", "NEW", "NEW-BASE", "share")
    body_ = [(c.category, _num(c.base), _num(c.new), _signed(c.difference), _pct(c.share)) for c in e.categories
             if c.base or c.new]
    body_.append(("total", _num(e.base.per_item), _num(e.new.per_item), _signed(e.difference),
                  _pct(1.0 if e.difference else None)))
    out.append(render(head, body_, fmt))
    head = ("function", "object", "category", "BASE", "NEW", "NEW-BASE", "share")
    body_ = [(code(r.function) if r.object else r.function, code(r.object), r.category, _num(r.base), _num(r.new),
              _signed(r.difference), _pct(r.share)) for r in e.top(top)]
    out.append(render(head, body_, fmt, left=3))
    callers = [r for r in e.functions[:min(top, CALLER_ROWS)] if r.callers and r.difference]
    if callers:
        lines = ["callers, calls per item BASE -> NEW:"]
        for r in callers:
            who = "; ".join(f"{code(c.function)} ({c.object}) {c.base:g} -> {c.new:g}" for c in r.callers)
            lines.append(f"  {code(r.function)}: {who}")
        out.append("\n".join(("- " + ln.strip()) if fmt == "md" and i else ln for i, ln in enumerate(lines)) + "\n")
    if e.bytecodes:
        head = ("Python function", "file:line", "BASE", "NEW", "NEW-BASE", "opcodes NEW-BASE")
        body_ = [(code(r.function), code(f"{r.file}:{r.line}"), _num(r.base), _num(r.new), _signed(r.difference),
                  " ".join(f"{op} {n - b:+g}" for op, b, n in r.opcodes if n != b) or "-")
                 for r in e.bytecodes[:top]]
        tools = " / ".join(dict.fromkeys(t for t in e.bytecode_tools if t))
        out.append(f"bytecode instructions per item, per Python function ({tools} opcode events):\n"
                   + ("\n" if fmt == "md" else "") + render(head, body_, fmt, left=2))
    return ("\n" if fmt == "text" else "\n").join(out)


FOOT = ("Self instructions per item of each function: (I(n2) - I(n1)) / (n2 - n1) of its own instructions "
        "(callees not included), counted by callgrind inside the iteration only, at hash seed 0 without address "
        "randomization. The rows add up exactly to the totals. Counts do not see waiting, syscalls, caches or "
        "branch prediction.\n")


def format_explanation(e: Explanation, fmt: str = "text", top: int = 15) -> str:
    """``explain``'s output: text, md or json (every row, whatever ``top``)."""
    if fmt == "json":
        import json

        return json.dumps(to_document(e), indent=2) + "\n"
    title = f"{e.title}"
    if fmt == "md":
        return (f"### Why: {title}\n\n{headline(e)}\n\n{_sides_line(e)}\n\n{_tables(e, top, 'md')}\n{FOOT}")
    return f"{title}\n{headline(e)}\n{_sides_line(e)}\n\n{_tables(e, top, 'text')}\n{FOOT}"


def to_document(e: Explanation) -> dict:
    """The versioned ``explain`` document: every row, the exact integers behind each figure."""
    def side(s: ExplainSide) -> dict:
        return {"label": s.label, "cell": s.cell, "python": s.python, "build": s.build, "per_item": s.per_item,
                "instructions": list(s.instructions), "environment": dataclasses.asdict(s.environment)}

    return document("explain", {
        "title": e.title,
        "signal": "instructions (callgrind Ir), self instructions per item",
        "sizes": list(e.sizes),
        "base": side(e.base),
        "new": side(e.new),
        "difference": e.difference,
        "ratio": e.ratio,
        "categories": [dataclasses.asdict(c) for c in e.categories],
        "functions": [{"function": r.function, "object": r.object, "category": r.category, "base": r.base,
                       "new": r.new, "difference": r.difference, "share": r.share, "deltas": list(r.deltas),
                       "callers": [dataclasses.asdict(c) for c in r.callers]} for r in e.functions],
        "bytecode_tools": list(e.bytecode_tools),
        "bytecodes": [{"function": r.function, "file": r.file, "line": r.line, "base": r.base, "new": r.new,
                       "difference": r.difference, "opcodes": [list(o) for o in r.opcodes]} for r in e.bytecodes],
    })


def from_document(doc: Mapping, where: str = "explain document") -> Explanation:
    """An ``explain`` document read back; ExplainError (one line) for anything else."""
    if not isinstance(doc, Mapping) or doc.get("aiterbench_document") != "explain":
        raise ExplainError(f"{where}: not an aiterbench explain document")
    if doc.get(VERSION) != 1:
        raise ExplainError(f"{where}: explain document version {doc.get(VERSION)!r}; this aiterbench reads version 1")
    d = body(doc)
    try:
        def side(s: Mapping) -> ExplainSide:
            return ExplainSide(str(s["label"]), str(s["cell"]), str(s["python"]), str(s["build"]), float(s["per_item"]),
                               Environment.from_record(s["environment"]), tuple(int(x) for x in s["instructions"]))

        functions = tuple(FunctionRow(str(r["function"]), str(r["object"]), str(r["category"]), float(r["base"]),
                                      float(r["new"]), float(r["difference"]), r["share"],
                                      tuple(Caller(str(c["function"]), str(c["object"]), float(c["base"]),
                                                   float(c["new"])) for c in r["callers"]),
                                      tuple(int(x) for x in r["deltas"])) for r in d["functions"])
        return Explanation(side(d["base"]), side(d["new"]), tuple(int(x) for x in d["sizes"]), functions,
                           tuple(CategoryRow(**c) for c in d["categories"]),
                           tuple(BytecodeRow(str(r["function"]), str(r["file"]), int(r["line"]), float(r["base"]),
                                             float(r["new"]), float(r["difference"]),
                                             tuple((str(o[0]), float(o[1]), float(o[2])) for o in r["opcodes"]))
                                 for r in d.get("bytecodes", ())),
                           tuple(str(t) for t in d.get("bytecode_tools", ("", ""))))
    except ExplainError as exc:
        raise ExplainError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ExplainError(f"{where}: not a whole explain document ({type(exc).__name__}: {exc})") from None


def is_explanation(path: str) -> bool:
    """True for a JSON file that names itself an explain document (read cheaply: its head only)."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r'"aiterbench_document"\s*:\s*"explain"', head) is not None


def load_explanation(path: str) -> Explanation:
    import json

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExplainError(f"{path}: cannot read an explain document ({exc})") from None
    return from_document(doc, path)


def explanations_md(items: Sequence[tuple[str, Explanation]], top: int = 10) -> str:
    """``ab --count --explain``'s section: one explanation per cell that is not unchanged."""
    return "".join(f"\n{format_explanation(e, 'md', top)}" for _, e in items)
