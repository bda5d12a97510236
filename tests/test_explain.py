"""explain: why one per-item count differs from another, function by function, exactly and repeatably.

The counted commands run once per module (fixtures) at small sizes, each from an empty folder of its own. A
counted process leaves its working folder off sys.path (its imports would list it, and a folder that gained a
file between two runs would move their counts): a test runs a repeat from a folder with one more file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiterbench import main
from aiterbench.analysis.callgrind import OBJECTS, CallgrindError, object_name, parse
from aiterbench.analysis.explain import (CATEGORIES, RULES, ExplainError, SideCounts, category, explain,
                                         format_explanation, from_document, load_explanation, to_document)
from aiterbench.model.identity import Environment
from aiterbench.orchestrate.explain import explain_path

from .test_cli import assert_one_error_line, cli
from .test_count import needs_valgrind


HERE = Path(__file__).resolve().parent
PLANTED = HERE / "planted"
SIZES = "100,300"
BASE_CELL, NEW_CELL = "class_anext/none/asyncio", "asyncgen/none/asyncio"


def _run(*args, cwd) -> subprocess.CompletedProcess:
    proc = cli(*args, cwd=str(cwd))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def quiet(tmp_path_factory) -> Path:
    """The working folder of every counted command here: empty, and left so (outputs go elsewhere)."""
    return tmp_path_factory.mktemp("explain-cwd")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("explain-out")


def _explain_two_cells(quiet, out, name):
    path = out / name
    proc = _run("explain", BASE_CELL, NEW_CELL, "--sizes", SIZES, "--format", "json", "-o", str(path), cwd=quiet)
    assert proc.returncode == 0, proc.stderr
    return json.loads(path.read_text()), path


@pytest.fixture(scope="module")
def two_cells(quiet, out):
    return _explain_two_cells(quiet, out, "two-cells.json")


@pytest.fixture(scope="module")
def two_cells_again(out, two_cells, tmp_path_factory):
    """The same command again, from another working folder (a longer name), which holds the first run's output:
    the counted processes run in a folder of their own, so neither the folder nor its files move the counts."""
    elsewhere = tmp_path_factory.mktemp("explain-from-a-folder-with-a-longer-name")
    shutil.copy(two_cells[1], elsewhere / "e1.json")
    return _explain_two_cells(elsewhere, out, "two-cells-again.json")


@pytest.fixture(scope="module")
def counted(quiet, out, two_cells):
    path = out / "count.json"
    proc = _run("count", "-i", "class_anext,asyncgen", "-w", "none", "-l", "asyncio", "--sizes", SIZES,
                "-o", str(path), cwd=quiet)
    assert proc.returncode == 0, proc.stderr
    shown = _run("show", str(path), "--format", "json", cwd=quiet)
    assert shown.returncode == 0, shown.stderr
    return {c["cell"]: c for c in json.loads(shown.stdout)["cells"]}


@pytest.fixture(scope="module")
def identical_sides(quiet, out):
    side = str(PLANTED / "base")
    path = out / "identical.json"
    proc = _run("explain", "planted/none/asyncio", "--base-path", side, "--new-path", side,
                "--impl-module", "planted_impls", "--sizes", SIZES, "--format", "json", "-o", str(path), cwd=quiet)
    assert proc.returncode == 0, proc.stderr
    return json.loads(path.read_text()), path


PLANTED_AB = ["ab", "--count", "--explain", "--base-path", str(PLANTED / "base"), "--new-path", str(PLANTED / "plus10"),
              "--impl-module", "planted_impls", "-i", "planted,asyncgen", "-w", "none", "-l", "asyncio", "--sizes", SIZES]


@pytest.fixture(scope="module")
def planted_md(quiet, out):
    """ab --count --explain on the planted regression, as the CI job of docs/ci.md runs it (md)."""
    prefix = out / "ab-md"
    return _run(*PLANTED_AB, "--format", "md", "-o", str(prefix), cwd=quiet), prefix


@pytest.fixture
def planted_json(planted_md, tmp_path, monkeypatch, capsys):
    """The same command with --format json, in this process, judging and explaining the md run's counts: the
    counting (valgrind, ~5 s of CPU) is replaced by what it wrote; the command's files, verdicts, explanation
    files and output are its own. That counted rows repeat from run to run is held by the repeat of explain
    above (test_a_repeat_from_another_folder_that_gained_a_file_gives_identical_rows)."""
    from aiterbench.orchestrate import ab as orchestrate

    counted = planted_md[1]
    rows = load_explanation(str(_explain_file(counted)))

    class Replayed(orchestrate.AbOutcome):
        def explain(self, names):
            assert list(names) == [rows.base.cell]  # ab asks for the cell that is not unchanged, and no other
            return [(rows.base.cell, rows)]

    def run_ab_count(probes, cells, sizes, modules, env, paths, notes, explain, check_timeout):
        assert explain and [p.side.name for p in probes] == ["base", "new"]
        for side, path in zip(("base", "new"), paths):
            shutil.copy(f"{counted}-{side}.json", path)
        return Replayed(tuple(paths), True, False)

    monkeypatch.setattr(orchestrate, "run_ab_count", run_ab_count)
    prefix = tmp_path / "ab-json"
    code = main([*PLANTED_AB, "--format", "json", "-o", str(prefix)])
    return code, capsys.readouterr(), prefix


def _functions(doc) -> dict:
    return {(r["function"], r["object"]): r for r in doc["functions"]}


# -- 1. closure on real cells -----------------------------------------------------------------------------------


@needs_valgrind
def test_the_rows_add_up_exactly_to_each_sides_counted_instructions(two_cells):
    doc, _ = two_cells
    assert doc["aiterbench_document"] == "explain" and doc["sizes"] == [100, 300]
    assert (doc["base"]["cell"], doc["new"]["cell"]) == (BASE_CELL, NEW_CELL)
    rows = doc["functions"]
    assert len(rows) > 30  # every function, not the largest ones only
    for i, side in enumerate(("base", "new")):
        first, second = doc[side]["instructions"]
        assert sum(r["deltas"][i] for r in rows) == second - first
        assert doc[side]["per_item"] == (second - first) / (300 - 100)
    for r in rows:
        assert r["base"] == r["deltas"][0] / 200 and r["new"] == r["deltas"][1] / 200
        assert r["difference"] == (r["deltas"][1] - r["deltas"][0]) / 200
        assert r["category"] == category(r["function"], r["object"])
    assert doc["difference"] == pytest.approx(doc["new"]["per_item"] - doc["base"]["per_item"], abs=1e-9)
    # The largest difference first, and the categories add up to the total too.
    assert [abs(r["deltas"][1] - r["deltas"][0]) for r in rows] == \
        sorted((abs(r["deltas"][1] - r["deltas"][0]) for r in rows), reverse=True)
    assert sum(c["difference"] for c in doc["categories"]) == pytest.approx(doc["difference"], abs=1e-6)
    assert [c["category"] for c in doc["categories"]] == list(CATEGORIES)


@needs_valgrind
def test_each_side_is_what_count_gives_for_the_same_cell_exactly(two_cells, counted):
    doc, _ = two_cells
    for side in ("base", "new"):
        cell = counted[doc[side]["cell"]]
        assert cell["sizes"] == doc["sizes"]
        assert cell["instructions"] == doc[side]["instructions"]  # the same two dumps' totals, to the instruction
        assert cell["instructions_per_item"] == pytest.approx(doc[side]["per_item"], abs=1e-9)


def _text_table(text: str, first: str) -> list[list[str]]:
    """A text table's cells, cut at the columns its rule of dashes marks."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(first + " "))
    spans = [m.span() for m in re.finditer(r"-+", lines[start + 1])]
    rows = []
    for ln in lines[start + 2:]:
        if not ln.strip():
            break
        rows.append([ln[a:b].strip() for a, b in spans])
    return rows


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("+", ""))


@needs_valgrind
@pytest.mark.parametrize("k", [1, 5, 15])
def test_the_largest_rows_and_one_other_row_add_up_to_the_difference_in_text_and_json(two_cells, k):
    doc, path = two_cells
    e = load_explanation(str(path))
    total = sum(r.deltas[1] for r in e.functions) - sum(r.deltas[0] for r in e.functions)
    top = e.top(k)
    assert top[:-1] == e.functions[:k] and top[-1].function == f"other ({len(e.functions) - k} functions)"
    assert sum(r.deltas[1] - r.deltas[0] for r in top) == total  # exactly, in integers
    assert sum(r.difference for r in top) == pytest.approx(e.difference, abs=1e-9)
    # Text: the rows printed, each rounded to 0.1, add up to the printed difference within their rounding.
    rows = _text_table(format_explanation(e, "text", k), "function")
    assert len(rows) == k + 1 and rows[-1][0] == top[-1].function
    assert [r[0] for r in rows[:-1]] == [r.function for r in e.functions[:k]]
    shown = sum(_number(r[5]) for r in rows)
    assert shown == pytest.approx(e.difference, abs=0.05 * (k + 1) + 0.05)
    # JSON holds every row, whatever --top.
    assert json.loads(format_explanation(e, "json", k))["functions"] == doc["functions"]


# -- 2. determinism ---------------------------------------------------------------------------------------------


@needs_valgrind
def test_a_repeat_from_another_folder_that_gained_a_file_gives_identical_rows(two_cells, two_cells_again):
    (first, _), (again, _) = two_cells, two_cells_again
    assert again == first  # the whole document: rows, callers, bytecodes, totals (it holds no time)


# -- 3. the categories' rules -----------------------------------------------------------------------------------

CATEGORY_CASES = [
    # (function, object short name, category)
    ("__tls_get_addr", "ld-linux", "thread-state and runtime look-ups"),
    ("_PyThreadState_GET", "libpython", "thread-state and runtime look-ups"),
    ("PyGILState_Check", "libpython", "thread-state and runtime look-ups"),
    ("StopIteration_dealloc", "libpython", "exception objects"),  # an exception's cost, not the allocator's
    ("StopIteration_init", "libpython", "exception objects"),
    ("BaseException_new", "libpython", "exception objects"),
    ("_PyErr_SetObject", "libpython", "exception objects"),
    ("_PyGen_FetchStopIterationValue", "libpython", "exception objects"),
    ("_PyObject_Free", "libpython", "allocation and freeing"),
    ("_PyObject_Malloc", "libpython", "allocation and freeing"),
    ("tupledealloc", "libpython", "allocation and freeing"),
    ("PyType_GenericAlloc", "libpython", "allocation and freeing"),
    ("free", "libc", "allocation and freeing"),
    ("async_gen_asend_iternext", "libpython", "generator and coroutine machinery"),
    ("async_gen_asend_dealloc", "libpython", "generator and coroutine machinery"),  # the generator's, not malloc's
    ("gen_send_ex2", "libpython", "generator and coroutine machinery"),
    ("PyIter_Send", "libpython", "generator and coroutine machinery"),
    ("_PyEval_EvalFrameDefault", "libpython", "interpreter loop"),
    ("_PyEval_EvalFrameDefault", "python", "interpreter loop"),  # a statically linked interpreter
    ("_PyFrame_Clear", "libpython", "interpreter loop"),
    ("initialize_locals", "libpython", "interpreter loop"),
    ("task_step_impl", "_asyncio", "event loop"),
    ("task_step_impl", "python", "event loop"),  # _asyncio built into the interpreter
    ("TaskObj_finalize", "libpython", "event loop"),
    ("__pyx_f_6uvloop_4loop_4Loop__run_once", "uvloop/loop", "event loop"),
    ("select_epoll_poll_impl", "select", "event loop"),
    ("memcpy", "libc", "other"),
    ("__memcpy_avx_unaligned_erms", "libc", "other"),
    ("_PyLong_Add", "libpython", "other"),
    ("_PyEval_EvalFrameDefault", "libc", "other"),  # the interpreter loop's names count in an interpreter only
    ("0x0000000004936718", "???", "other"),
]


@pytest.mark.parametrize("function, obj, expected", CATEGORY_CASES)
def test_a_function_is_in_its_category(function, obj, expected):
    assert category(function, obj) == expected


def test_every_rule_is_the_first_match_of_some_case_and_every_category_is_reached():
    def first_rule(function, obj):
        return next((i for i, rule in enumerate(RULES) if rule.matches(function, obj)), None)

    hit = {first_rule(f, o) for f, o, _ in CATEGORY_CASES}
    assert hit >= set(range(len(RULES))), f"rules no case reaches: {sorted(set(range(len(RULES))) - hit)}"
    assert {c for _, _, c in CATEGORY_CASES} == set(CATEGORIES)
    assert all(rule.category in CATEGORIES for rule in RULES)


OBJECT_CASES = [
    ("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", "libpython"),
    ("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", "libpython"),
    ("/root/.pyenv/versions/3.12.1/bin/python3.12", "python"),
    ("/usr/local/bin/python3.13t", "python"),
    ("/usr/bin/python", "python"),
    ("/usr/lib/x86_64-linux-gnu/libc.so.6", "libc"),
    ("/usr/lib/x86_64-linux-gnu/libm.so.6", "libm"),
    ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "ld-linux"),
    ("/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2", "libffi"),
    ("/root/.pyenv/versions/3.12.1/lib/python3.12/lib-dynload/_asyncio.cpython-312-x86_64-linux-gnu.so", "_asyncio"),
    ("/work/main/.venv/lib/python3.11/site-packages/uvloop/loop.cpython-311-x86_64-linux-gnu.so", "uvloop/loop"),
    ("/x/lib/python3.11/site-packages/rloop/_rloop.cpython-311-x86_64-linux-gnu.so", "rloop/_rloop"),
    ("/x/lib/python3.11/lib-dynload/select.cpython-311-x86_64-linux-gnu.so", "select"),
    ("/x/lib/python3.11/site-packages/_cffi_backend.cpython-311-x86_64-linux-gnu.so", "_cffi_backend"),
    ("/x/site-packages/pkg/mod.abi3.so", "pkg/mod"),
    ("???", "???"),
    ("", "???"),
]


@pytest.mark.parametrize("path, expected", OBJECT_CASES)
def test_an_object_file_is_named_without_its_version(path, expected):
    assert object_name(path) == expected


def test_every_object_pattern_is_reached():
    names = {short for _, short in OBJECTS}
    assert names <= {expected for _, expected in OBJECT_CASES}


# -- 4. the parser ----------------------------------------------------------------------------------------------

LIBPYTHON = "/usr/lib/libpython3.12.so.1.0"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"

#: Name compression, a cob= for one call only, relative positions, a recursion suffix, an uncompressed name.
HANDWRITTEN = f"""# callgrind format
version: 1
creator: handwritten
pid: 1
cmd:  python -c pass
part: 1

desc: Trigger: --dump-after=functools_reduce

positions: line
events: Ir
summary: 560

ob=(1) {LIBPYTHON}
fl=(1) Objects/genobject.c
fn=(1) gen_send_ex2
10 100
+2 50
cob=(2) {LIBC}
cfi=(2) malloc.c
cfn=(2) malloc
calls=3 20
* 300
cfn=(4) PyObject_Free
calls=2 30
+1 40
cfn=(3) gen_send_ex2'2
calls=1 10
-3 35

fn=(3)
fi=(1)
-1 25
cfn=(1)
calls=1 10
+1 5

ob=(2)
fl=(2)
fn=(2)
20 200

ob=(1)
fl=(1)
fn=(4)
30 75

fn=_PyEval_EvalFrameDefault
1 110

totals: 560
"""


def _write(tmp_path, text: str, name="callgrind.out.1") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_parser_reads_compressed_names_scoped_cob_relative_positions_and_merges_recursion(tmp_path):
    p = parse(_write(tmp_path, HANDWRITTEN))
    gen, free, malloc = (("gen_send_ex2", LIBPYTHON), ("PyObject_Free", LIBPYTHON), ("malloc", LIBC))
    loop = ("_PyEval_EvalFrameDefault", LIBPYTHON)  # named uncompressed
    # gen_send_ex2'2 is gen_send_ex2; a call's cost line is the call's inclusive cost, never the caller's.
    assert dict(p.self_cost) == {gen: 100 + 50 + 25, malloc: 200, free: 75, loop: 110}
    assert p.total == 560 == sum(p.self_cost.values())
    # PyObject_Free is called without cob=: it is in the caller's object, the cob= before was for malloc only.
    assert dict(p.calls) == {(gen, malloc): (3, 300), (gen, free): (2, 40), (gen, gen): (1 + 1, 35 + 5)}


def test_a_profile_whose_functions_miss_the_total_is_refused(tmp_path):
    with pytest.raises(CallgrindError, match="add up to 560, not to the dump's total 561"):
        parse(_write(tmp_path, HANDWRITTEN.replace("totals: 560", "totals: 561")))


@pytest.mark.parametrize("text, needle", [
    ("this is not callgrind output\n", "not a whole callgrind output file"),
    (HANDWRITTEN.replace("events: Ir", "events: Ir Dr"), "expected Ir alone"),
    (HANDWRITTEN.replace("fn=(1) gen_send_ex2\n", "fn=(1)\n"), "fn=(1) used before it is named"),
    (HANDWRITTEN.replace("ob=(1) ", "10 3\nob=(1) "), "a cost line before any function"),
    (HANDWRITTEN.replace("+2 50", "+2 fifty"), "not a callgrind output file"),
    (HANDWRITTEN.replace("cfn=(2) malloc\n", ""), "calls= before a function and its callee"),
    (HANDWRITTEN.replace("totals: 560\n", "").replace("summary: 560\n", ""), "no events or totals line"),
    (HANDWRITTEN[: HANDWRITTEN.index("fn=(4)\n30 75")], "add up to"),  # cut short: its functions miss the total
])
def test_a_malformed_file_is_one_callgrind_error(tmp_path, text, needle):
    with pytest.raises(CallgrindError) as exc:
        parse(_write(tmp_path, text))
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_a_missing_file_is_a_callgrind_error(tmp_path):
    with pytest.raises(CallgrindError, match="not a callgrind output file"):
        parse(str(tmp_path / "nothing"))


# -- 5. bad input -----------------------------------------------------------------------------------------------


@pytest.fixture
def target(tmp_path):
    """An -o target in a folder of its own, which a refused command must leave empty."""
    folder = tmp_path / "out"
    folder.mkdir()
    yield folder / "explain.json"
    assert not list(folder.iterdir())


@pytest.fixture(scope="module")
def lacking(tmp_path_factory) -> Path:
    """A side folder whose planted_impls has another impl, not ``planted``."""
    folder = tmp_path_factory.mktemp("lacking")
    (folder / "planted_impls.py").write_text(
        '"""A plug-in without the impl planted."""\n\n\nasync def other(n):\n    for i in range(n):\n'
        '        yield i\n\n\nIMPLS = {"other": {"family": "asyncgen", "workloads": {"none": other}}}\n')
    return folder


def test_without_valgrind_explain_says_how_to_install_it(monkeypatch, target, capsys):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "valgrind" else real(name, *a, **k))
    assert main(["explain", BASE_CELL, NEW_CELL, "-o", str(target)]) == 2
    assert_one_error_line(capsys.readouterr().err, "apt-get install valgrind")
    assert main(["ab", "--count", "--explain", "-i", "asyncgen", "-w", "none", "-l", "asyncio",
                 "-o", str(target.parent / "ab")]) == 2
    assert_one_error_line(capsys.readouterr().err, "apt-get install valgrind")


BAD_BEFORE_VALGRIND = [
    ([f"{NEW_CELL}", "asyncgen/*/asyncio"], "not globs or lists"),
    ([f"{NEW_CELL},{BASE_CELL}", BASE_CELL], "not globs or lists"),
    ([f"{NEW_CELL}@n=10", BASE_CELL], "without '@n='"),
    (["garbage", BASE_CELL], "not a cell name"),
    ([NEW_CELL], "one cell needs two sides"),
    ([BASE_CELL, NEW_CELL, "--base-path", str(PLANTED / "base")], "two cells are compared on this interpreter"),
    ([BASE_CELL, NEW_CELL, "--new-python", sys.executable], "two cells are compared on this interpreter"),
    ([BASE_CELL, NEW_CELL, "sync_iter/none/asyncio"], "not 3"),
    ([BASE_CELL, NEW_CELL, "--sizes", "5"], "--sizes"),
    ([BASE_CELL, NEW_CELL, "--sizes", "7,7"], "--sizes"),
    ([BASE_CELL, NEW_CELL, "--sizes", "0,10"], "--sizes"),
    ([BASE_CELL, NEW_CELL, "--sizes", "1,x"], "--sizes"),
    ([BASE_CELL, NEW_CELL, "--top", "0"], "--top 0"),
    ([BASE_CELL, NEW_CELL, "--top", "1001"], "--top 1001"),
    ([BASE_CELL, NEW_CELL, "--check-timeout", "0"], "--check-timeout 0"),
]


@needs_valgrind
@pytest.mark.parametrize("sides", [[BASE_CELL, NEW_CELL], ["planted/none/asyncio", "--base-path", str(PLANTED / "base"),
                                                           "--new-path", str(PLANTED / "plus10"),
                                                           "--impl-module", "planted_impls"]], ids=["cells", "sides"])
def test_explain_gives_its_check_timeout_to_the_counting_processes(sides, monkeypatch, tmp_path, capsys):
    """As count and ab --count do: a slow source's set-up may need more than the check's 10 s."""
    from aiterbench.orchestrate import explain as orchestrate

    seen = []

    def count_groups(todo, *args, check_timeout=None, **kwargs):
        seen.append(check_timeout)
        return [], [(todo[0], "not counted here")], False

    monkeypatch.setattr(orchestrate, "count_groups", count_groups)
    assert main(["explain", *sides, "--check-timeout", "2.5", "-o", str(tmp_path / "e.json")]) == 1
    assert seen == [2.5] and "FAILED" in capsys.readouterr().err


@pytest.mark.parametrize("args, needle", BAD_BEFORE_VALGRIND)
def test_bad_input_is_one_line_exit_2_and_nothing_written(args, needle, target, capsys):
    assert main(["explain", *args, "-o", str(target)]) == 2
    assert_one_error_line(capsys.readouterr().err, needle)


#: Refused after the valgrind check (an unknown cell is looked up on the side that would count it).
BAD_AFTER_VALGRIND = [
    (["nope/none/asyncio", NEW_CELL], "nope/none/asyncio: impl 'nope' matches nothing"),
    ([BASE_CELL, "asyncgen/nowhere/asyncio"], "workload 'nowhere' matches nothing"),
    ([BASE_CELL, "asyncgen/none/noloop"], "loop 'noloop' matches nothing"),
    ([NEW_CELL, "--new-python", "/nonexistent"], "--new-python /nonexistent"),
    (["planted/none/asyncio", "--base-path", str(PLANTED / "base"), "--new-path", "LACKING", "--impl-module",
      "planted_impls"], "planted/none/asyncio: impl 'planted' matches nothing"),
    (["other/none/asyncio", "--base-path", str(PLANTED / "base"), "--new-path", "LACKING", "--impl-module",
      "planted_impls"], "other/none/asyncio: impl 'other' matches nothing"),
]


@needs_valgrind
@pytest.mark.parametrize("args, needle", BAD_AFTER_VALGRIND)
def test_a_cell_no_side_has_or_a_side_that_cannot_be_probed_is_one_line_exit_2(args, needle, target, lacking,
                                                                                capsys):
    args = [str(lacking) if a == "LACKING" else a for a in args]
    assert main(["explain", *args, "-o", str(target)]) == 2
    assert_one_error_line(capsys.readouterr().err, needle)


@needs_valgrind
def test_an_existing_output_is_kept_without_force(tmp_path, capsys):
    existing = tmp_path / "explain.json"
    existing.write_text("mine\n")
    assert main(["explain", BASE_CELL, NEW_CELL, "-o", str(existing)]) == 2
    assert_one_error_line(capsys.readouterr().err, "--force")
    assert existing.read_text() == "mine\n" and [p.name for p in tmp_path.iterdir()] == ["explain.json"]


def test_ab_explain_without_count_is_one_line_exit_2(tmp_path, capsys):
    assert main(["ab", "--explain", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "-o", str(tmp_path / "ab")]) == 2
    assert_one_error_line(capsys.readouterr().err, "--explain needs --count")
    assert not list(tmp_path.iterdir())


# -- 6. two identical sides -------------------------------------------------------------------------------------


@needs_valgrind
def test_two_identical_sides_differ_by_zero_in_every_row(identical_sides):
    doc, path = identical_sides
    assert doc["base"]["instructions"] == doc["new"]["instructions"]
    assert doc["difference"] == 0 and doc["ratio"] == 1
    assert doc["functions"] and all(r["deltas"][0] == r["deltas"][1] and r["difference"] == 0 and r["share"] is None
                                    for r in doc["functions"])
    assert all(c["difference"] == 0 for c in doc["categories"])
    assert doc["bytecodes"] and all(r["difference"] == 0 for r in doc["bytecodes"])
    assert doc["base"]["label"].startswith("base (") and doc["new"]["label"].startswith("new (")
    # Text still lists what costs most, each at +0.0.
    rows = _text_table(format_explanation(load_explanation(str(path)), "text", 5), "function")
    assert len(rows) == 6 and rows[0][0] == doc["functions"][0]["function"]
    assert all(r[5] == "+0.0" for r in rows)


# -- 7. ab --count --explain on the planted regression -----------------------------------------------------------


def _explain_file(prefix) -> Path:
    return Path(explain_path(str(prefix), "planted/none/asyncio"))


@needs_valgrind
def test_ab_count_explain_writes_the_planted_regressions_explanation_with_every_row(planted_md):
    proc, prefix = planted_md
    assert proc.returncode == 1, proc.stderr  # a regression
    assert _explain_file(prefix).name == "ab-md-explain-planted-none-asyncio.json"
    written = sorted(p.name for p in prefix.parent.glob(prefix.name + "-*"))
    assert written == ["ab-md-base.json", "ab-md-explain-planted-none-asyncio.json", "ab-md-new.json"]  # not asyncgen
    doc = json.loads(_explain_file(prefix).read_text())
    assert load_explanation(str(_explain_file(prefix))).base.cell == "planted/none/asyncio"
    rows = doc["functions"]
    assert len(rows) > 10  # all rows, not the 10 shown
    # The planted loads are bytecodes: the interpreter loop pays the whole difference, nothing else moves.
    loop = _functions(doc)[("_PyEval_EvalFrameDefault", "libpython")]
    assert rows[0] == loop and loop["category"] == "interpreter loop"
    assert loop["difference"] == doc["difference"] > 0 and loop["share"] == 1.0
    assert all(r["difference"] == 0 for r in rows[1:])
    bytecodes = {r["function"]: r for r in doc["bytecodes"]}
    assert bytecodes["planted"]["difference"] == 4.0  # two `i` statements: LOAD_FAST and POP_TOP each
    assert sorted(o[0] for o in bytecodes["planted"]["opcodes"] if o[1] != o[2]) == ["LOAD_FAST", "POP_TOP"]
    # The count files' per-item counts are the explanation's sides.
    for side in ("base", "new"):
        shown = json.loads(cli("show", f"{prefix}-{side}.json", "--format", "json").stdout)["cells"]
        planted = next(c for c in shown if c["cell"] == "planted/none/asyncio")
        assert planted["instructions"] == doc[side]["instructions"]


@needs_valgrind
def test_ab_count_explain_md_explains_the_regression_only_in_markdown_tables(planted_md):
    proc, _ = planted_md
    text = proc.stdout
    assert text.count("### Why:") == 1
    why = text[text.index("### Why:"):]
    assert why.startswith("### Why: planted/none/asyncio: new (") and "asyncgen/none/asyncio" not in why
    assert "| function | object | category | BASE | NEW | NEW-BASE | share |" in why
    assert "| category | BASE | NEW | NEW-BASE | share |" in why
    assert "| `_PyEval_EvalFrameDefault` | `libpython` | interpreter loop |" in why
    assert re.search(r"^\| `planted` \| `planted_impls\.py:\d+` \| [\d.]+ \| [\d.]+ \| \+4\.0 \|", why, re.M)
    assert "|---|---|---|--:|--:|--:|--:|" in why
    assert "Traceback" not in proc.stderr and "wrote 1 explanation" in proc.stderr


@needs_valgrind
def test_ab_count_explain_json_carries_every_row_of_the_regression_only(planted_json, planted_md):
    code, captured, prefix = planted_json
    assert code == 1, captured.err
    data = json.loads(captured.out)
    verdicts = {c["cell"]: c["verdict"] for c in data["cells"]}
    assert verdicts == {"planted/none/asyncio": "regression", "asyncgen/none/asyncio": "unchanged"}
    (one,) = data["explanations"]
    assert one["cell"] == "planted/none/asyncio" and one["file"] == str(_explain_file(prefix))
    assert one["aiterbench_document"] == "explain"
    written = json.loads(_explain_file(prefix).read_text())
    assert one["functions"] == written["functions"] and len(one["functions"]) > 10
    assert one["bytecodes"] == written["bytecodes"]
    assert written == json.loads(_explain_file(planted_md[1]).read_text())  # every row of the counted runs
    assert "wrote 1 explanation" in captured.err


# -- 8. the explain document ------------------------------------------------------------------------------------


def _environment(version: str) -> Environment:
    return Environment.from_metadata({"python_implementation": "cpython", "python_version": f"{version} (64-bit)",
                                      "python_compiler": "GCC 12.2.0", "cpu_model_name": "cpu", "hostname": "h",
                                      "platform": "Linux", "aiterbench_build": "shared libpython"})


def _profile_file(tmp_path, name: str, costs: dict, calls=()) -> str:
    """A small callgrind file: self costs per (function, object path), calls as (caller, callee, count, cost)."""
    lines = ["events: Ir", f"summary: {sum(costs.values())}"]
    for (fn, ob), cost in costs.items():
        lines += [f"ob={ob}", f"fn={fn}", f"1 {cost}"]
        for caller, callee, count, inclusive in calls:
            if caller == (fn, ob):
                lines += [f"cob={callee[1]}", f"cfn={callee[0]}", f"calls={count} 1", f"1 {inclusive}"]
    lines.append(f"totals: {sum(costs.values())}")
    return _write(tmp_path, "\n".join(lines) + "\n", name)


@pytest.fixture
def synthetic(tmp_path):
    """An explanation of two made-up sides, with callers and bytecodes: no valgrind needed."""
    frame, alloc, tls = ("_PyEval_EvalFrameDefault", LIBPYTHON), ("_PyObject_Malloc", LIBPYTHON), \
        ("__tls_get_addr", "/lib64/ld-linux-x86-64.so.2")

    def side(label, version, small, large, per_call, ops):
        profiles = tuple(parse(_profile_file(tmp_path, f"{label}.{i}", costs, [(frame, alloc, n * per_call, 9)]))
                         for i, (costs, n) in enumerate(((small, 10), (large, 30))))
        counts = tuple({("agen", "impls/asyncgen.py", 10): {op: k * n for op, k in ops.items()}} for n in (10, 30))
        return SideCounts(label, NEW_CELL, (10, 30), profiles, _environment(version), counts, "sys.settrace")

    base = side("base", "3.11.7", {frame: 1000, alloc: 200}, {frame: 3000, alloc: 600}, 1, {"LOAD_FAST": 2})
    new = side("new", "3.12.1", {frame: 1100, alloc: 300, tls: 50}, {frame: 3500, alloc: 900, tls: 450}, 2,
               {"LOAD_FAST": 3, "POP_TOP": 1})
    return explain(base, new)


def test_the_synthetic_explanation_is_what_the_sides_say(synthetic):
    e = synthetic
    assert [(r.function, r.object, r.category, r.deltas) for r in e.functions] == [
        ("_PyEval_EvalFrameDefault", "libpython", "interpreter loop", (2000, 2400)),
        ("__tls_get_addr", "ld-linux", "thread-state and runtime look-ups", (0, 400)),
        ("_PyObject_Malloc", "libpython", "allocation and freeing", (400, 600)),
    ]
    assert e.difference == (4850 - 1450) / 20 - (3600 - 1200) / 20 == 50 and e.functions[1].share == 400 / 1000
    (caller,) = e.functions[2].callers
    assert (caller.function, caller.base, caller.new) == ("_PyEval_EvalFrameDefault", 1.0, 2.0)
    (agen,) = e.bytecodes
    assert (agen.base, agen.new, agen.difference) == (2.0, 4.0, 2.0)


def test_the_explain_document_round_trips(synthetic, tmp_path):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(to_document(synthetic)))
    assert load_explanation(str(path)) == synthetic
    assert from_document(to_document(synthetic)) == synthetic


@needs_valgrind
def test_a_real_explain_document_round_trips(two_cells):
    doc, path = two_cells
    e = load_explanation(str(path))
    assert json.loads(json.dumps(to_document(e))) == doc  # through JSON: a tuple is written as a list
    assert [r.deltas for r in e.functions] == [tuple(r["deltas"]) for r in doc["functions"]]


def _mangled(doc: dict, how: str) -> dict:
    doc = json.loads(json.dumps(doc))
    if how == "version":
        doc["document_version"] = 2
    elif how == "no version":
        del doc["document_version"]
    elif how == "another document":
        doc["aiterbench_document"] = "count"
    elif how == "a row lost":
        del doc["functions"][0]
    elif how == "a key lost":
        del doc["new"]["per_item"]
    elif how == "a bad number":
        doc["functions"][0]["base"] = "many"
    return doc


@pytest.mark.parametrize("how, needle", [
    ("version", "explain document version 2; this aiterbench reads version 1"),
    ("no version", "explain document version None"),
    ("another document", "not an aiterbench explain document"),
    ("a row lost", "do not add up to the counted totals"),
    ("a key lost", "not a whole explain document"),
    ("a bad number", "not a whole explain document"),
])
def test_an_unreadable_explain_document_is_one_explain_error(synthetic, tmp_path, how, needle):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(_mangled(to_document(synthetic), how)))
    with pytest.raises(ExplainError) as exc:
        load_explanation(str(path))
    assert needle in str(exc.value) and str(path) in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", ""])
def test_a_file_that_is_no_document_is_one_explain_error(tmp_path, text):
    path = tmp_path / "e.json"
    path.write_text(text)
    with pytest.raises(ExplainError) as exc:
        load_explanation(str(path))
    assert "\n" not in str(exc.value)


# -- one cell across two Pythons --------------------------------------------------------------------------------


def _pyenv_python(version: str) -> str | None:
    root = shutil.which("pyenv") and subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    found = sorted(Path(root or "/nonexistent", "versions").glob(f"{version}.*/bin/python3"))
    return str(found[-1]) if found else None


PY312 = _pyenv_python("3.12")


@pytest.fixture(scope="module")
def across_pythons(quiet, out, tmp_path_factory):
    # That interpreter has no pyperf of its own: this one's (pure Python) is lent to its workers.
    import pyperf

    lent = tmp_path_factory.mktemp("lent")
    (lent / "pyperf").symlink_to(Path(pyperf.__file__).parent)
    path = out / "across.json"
    proc = cli("explain", NEW_CELL, "--base-python", sys.executable, "--new-python", PY312, "--inherit-environ",
               "PYTHONPATH", "--sizes", SIZES, "--format", "json", "-o", str(path), cwd=str(quiet),
               extra_env={"PYTHONPATH": str(lent)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(path.read_text())


@needs_valgrind
@pytest.mark.skipif(PY312 is None or sys.version_info[:2] == (3, 12), reason="needs pyenv's CPython 3.12, "
                                                                            "and this interpreter another version")
def test_one_cell_across_two_pythons_lines_functions_up_by_object_and_counts_bytecodes_each_way(across_pythons):
    doc = across_pythons
    assert doc["title"].startswith(f"{NEW_CELL}: new (3.12.") and doc["new"]["python"].startswith("3.12.")
    assert doc["bytecode_tools"] == ["sys.settrace" if sys.version_info < (3, 12) else "sys.monitoring",
                                     "sys.monitoring"]
    for i, side in enumerate(("base", "new")):
        first, second = doc[side]["instructions"]
        assert sum(r["deltas"][i] for r in doc["functions"]) == second - first
    rows = _functions(doc)
    # Two libpythons of two versions are one object: the interpreter loop is one row with both sides.
    frame = rows[("_PyEval_EvalFrameDefault", "libpython")]
    assert frame["base"] > 0 and frame["new"] > 0
    assert not any(obj.startswith(("libpython3", "python3")) for _, obj in rows)  # no version in the name
    if "shared libpython" in doc["new"]["build"] and sys.version_info < (3, 12):
        # 3.12 reads its thread state through thread-local storage: with a shared libpython, __tls_get_addr.
        tls = rows[("__tls_get_addr", "ld-linux")]
        assert tls["category"] == "thread-state and runtime look-ups" and tls["base"] == 0 and tls["new"] > 100
