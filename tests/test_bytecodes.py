"""Bytecodes per item: exact counts for two async iterators, on this Python and on every pyenv CPython here.

One scenario (``SCENARIO``, standard library only) runs here against the
installed module and, in a subprocess, against the module's file on each other
interpreter: 3.10 and 3.11 count with ``sys.settrace``, 3.12 and later with
``sys.monitoring``. The instructions per item are read off ``dis`` of the
scenario's functions (the loop bodies, their ``async for`` and ``yield``): with
the fixed cost cancelled they are whole numbers, compared exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from aiterbench.measure import bytecodes
from aiterbench.measure.bytecodes import count_bytecodes, from_rows, per_item, to_rows

SCENARIO = textwrap.dedent('''
    import asyncio
    import sys
    import threading

    SMALL, LARGE = 8, 24


    async def agen(n):
        for i in range(n):
            yield i


    class Anext:
        def __init__(self, n):
            self.i = 0
            self.n = n

        def __aiter__(self):
            return self

        async def __anext__(self):
            i = self.i
            if i >= self.n:
                raise StopAsyncIteration
            self.i = i + 1
            return i


    async def drain(it):
        async for _ in it:
            pass


    def spin():
        total = 0
        for i in range(100):
            total += i
        return total


    def observe(bytecodes):
        """What the checks need, as JSON: per-item counts and how counting leaves the interpreter."""
        count = bytecodes.count_bytecodes
        loop = asyncio.new_event_loop()
        try:
            forms = {"asyncgen": agen, "class_anext": Anext}
            for make in forms.values():  # first calls (hooks, caches) before anything is counted
                loop.run_until_complete(drain(make(2)))

            def drained(make, n):  # one lambda, so one key, at every size
                return lambda: loop.run_until_complete(drain(make(n)))

            per_item, repeats = {}, []
            for name, make in forms.items():
                small = count(drained(make, SMALL))
                large = count(drained(make, LARGE))
                per_item[name] = bytecodes.to_rows(bytecodes.per_item(small, large, SMALL, LARGE))
                repeats.append(count(drained(make, LARGE)) == large)
            files = sorted({key[1] for key in large})

            def previous(frame, event, arg):
                return None

            sys.settrace(previous)
            try:
                count(drained(agen, SMALL))
                restored = sys.gettrace() is previous
            finally:
                sys.settrace(None)

            def fails():
                loop.run_until_complete(drain(agen(SMALL)))
                raise ValueError("boom")

            try:
                count(fails)
                raised = None
            except ValueError as exc:
                raised = str(exc)
            clean = sys.gettrace() is None and _monitoring_clean()

            def threaded():
                thread = threading.Thread(target=spin)
                thread.start()
                thread.join()

            other_thread = any(key[0] == "spin" for key in count(threaded))
            extended_arg = _extended_arg_counted_once(count)
            busy = None
            if sys.version_info >= (3, 12):  # a tool id another tool holds is left alone
                taken = bytecodes._TOOL_IDS[0]
                sys.monitoring.use_tool_id(taken, "another tool")
                try:
                    busy = (count(spin) != {} and sys.monitoring.get_tool(taken) == "another tool"
                            and _monitoring_clean(ignore=taken))
                finally:
                    sys.monitoring.free_tool_id(taken)
        finally:
            loop.close()
        return {"per_item": per_item, "repeat_identical": all(repeats), "files": files,
                "previous_trace_restored": restored, "raised": raised, "clean_after_raise": clean,
                "other_thread_counted": other_thread, "busy_tool_id_skipped": busy,
                "extended_arg_counted_once": extended_arg}


    def _extended_arg_counted_once(count):
        """A straight-line function whose 300th constant and local need EXTENDED_ARG: dis's instructions, once each."""
        import collections
        import dis

        source = "def wide():\\n" + "".join(f"    v{i} = {i}\\n" for i in range(300)) + "    return v299\\n"
        namespace = {}
        exec(compile(source, "<wide>", "exec"), namespace)
        wide = namespace["wide"]
        expected = collections.Counter(i.opname for i in dis.get_instructions(wide)
                                       if i.opname not in ("EXTENDED_ARG", "RESUME"))
        return "EXTENDED_ARG" in {i.opname for i in dis.get_instructions(wide)} and count(wide) == {
            ("wide", "<wide>", 1): dict(sorted(expected.items()))}


    def _monitoring_clean(ignore=None):
        if sys.version_info < (3, 12):
            return True
        tools = [tool for tool in range(6) if tool != ignore]
        return all(sys.monitoring.get_tool(tool) is None and sys.monitoring.get_events(tool) == 0 for tool in tools)
''')

#: The scenario's functions, keyed as count_bytecodes keys them (its "file" is the name it is compiled under).
AGEN = ("agen", "scenario.py", 9)
ANEXT = ("Anext.__anext__", "scenario.py", 22)
ANEXT_310 = ("__anext__", "scenario.py", 22)  # 3.10 has no co_qualname
DRAIN = ("drain", "scenario.py", 30)


def _ones(*names: str) -> dict[str, int]:
    return {name: 1 for name in names}


#: Instructions per item, read off dis of each version; RESUME (3.11 on) is never counted. The generator per item:
#: resumed after its yield (POP_TOP of the sent None), round its for loop, yield again (3.11 wraps the value,
#: ASYNC_GEN_WRAP; 3.12 on, CALL_INTRINSIC_1). The __anext__ coroutine runs whole per item: i = self.i; if i >=
#: self.n (not taken); self.i = i + 1; return i, six local loads (3.13 pairs two: LOAD_FAST_LOAD_FAST). The
#: drain's async for per item: GET_ANEXT, send None into it, store, jump back.
_ANEXT_BODY = {"LOAD_FAST": 6, "LOAD_ATTR": 2, "STORE_FAST": 1, "COMPARE_OP": 1, "LOAD_CONST": 1, "STORE_ATTR": 1,
               "RETURN_VALUE": 1}
_DRAIN_310 = _ones("SETUP_FINALLY", "GET_ANEXT", "LOAD_CONST", "YIELD_FROM", "POP_BLOCK", "STORE_FAST",
                   "JUMP_ABSOLUTE")
_DRAIN_311 = _ones("GET_ANEXT", "LOAD_CONST", "SEND", "STORE_FAST", "JUMP_BACKWARD")
_DRAIN_312 = {**_DRAIN_311, "END_SEND": 1}
_AGEN_312 = _ones("POP_TOP", "JUMP_BACKWARD", "FOR_ITER", "STORE_FAST", "LOAD_FAST", "CALL_INTRINSIC_1",
                  "YIELD_VALUE")
EXPECTED = {
    (3, 10): {
        "asyncgen": {AGEN: _ones("POP_TOP", "JUMP_ABSOLUTE", "FOR_ITER", "STORE_FAST", "LOAD_FAST", "YIELD_VALUE"),
                     DRAIN: _DRAIN_310},
        "class_anext": {ANEXT_310: {**_ANEXT_BODY, "GEN_START": 1, "POP_JUMP_IF_FALSE": 1, "BINARY_ADD": 1},
                        DRAIN: _DRAIN_310},
    },
    (3, 11): {
        "asyncgen": {AGEN: _ones("POP_TOP", "JUMP_BACKWARD", "FOR_ITER", "STORE_FAST", "LOAD_FAST", "ASYNC_GEN_WRAP",
                                 "YIELD_VALUE"),
                     DRAIN: _DRAIN_311},
        "class_anext": {ANEXT: {**_ANEXT_BODY, "POP_JUMP_FORWARD_IF_FALSE": 1, "BINARY_OP": 1},
                        DRAIN: _DRAIN_311},
    },
    (3, 12): {
        "asyncgen": {AGEN: _AGEN_312, DRAIN: _DRAIN_312},
        "class_anext": {ANEXT: {**_ANEXT_BODY, "POP_JUMP_IF_FALSE": 1, "BINARY_OP": 1}, DRAIN: _DRAIN_312},
    },
    (3, 13): {
        "asyncgen": {AGEN: _AGEN_312, DRAIN: _DRAIN_312},
        "class_anext": {ANEXT: {**_ANEXT_BODY, "LOAD_FAST": 4, "LOAD_FAST_LOAD_FAST": 1, "POP_JUMP_IF_FALSE": 1,
                                "BINARY_OP": 1},
                        DRAIN: _DRAIN_312},
    },
}


def _pyenv_pythons() -> list[str]:
    """The other CPythons the scenario runs on: pyenv's 3.10, 3.12 and 3.13 here."""
    root = shutil.which("pyenv") and subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    return [os.path.join(root or "/nonexistent", "versions", version, "bin", "python")
            for version in ("3.10.13", "3.12.1", "3.13.0")]


def _observe_here() -> dict:
    namespace: dict = {}
    exec(compile(SCENARIO, "scenario.py", "exec"), namespace)
    return json.loads(json.dumps(namespace["observe"](bytecodes)))  # as a subprocess's: tuples become lists


def _observe_in(python: str) -> tuple[tuple[int, int], dict]:
    """The scenario's observations on another interpreter, with the module loaded from its file."""
    child = textwrap.dedent(f'''
        import importlib.util, json, sys
        spec = importlib.util.spec_from_file_location("bytecodes", {bytecodes.__file__!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        namespace = {{}}
        exec(compile({SCENARIO!r}, "scenario.py", "exec"), namespace)
        print(json.dumps({{"version": sys.version_info[:2], "observed": namespace["observe"](module)}}))
    ''')
    done = subprocess.run([python, "-I", "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return tuple(out["version"]), out["observed"]


def _check(version: tuple[int, int], observed: dict) -> None:
    if version not in EXPECTED:
        pytest.skip(f"no expected counts for Python {version[0]}.{version[1]}: work them out from dis and add them")
    assert {form: from_rows(rows) for form, rows in observed["per_item"].items()} == EXPECTED[version]
    assert observed["repeat_identical"]
    assert observed["previous_trace_restored"]
    assert observed["raised"] == "boom" and observed["clean_after_raise"]
    assert not observed["other_thread_counted"]
    assert observed["extended_arg_counted_once"]
    assert observed["busy_tool_id_skipped"] in ((None,) if version < (3, 12) else (True,))
    # Keys are machine-independent: stdlib files from their package down, no absolute path.
    assert "asyncio/base_events.py" in observed["files"] and "scenario.py" in observed["files"]
    assert not [f for f in observed["files"] if f.startswith("/")]


def test_counts_per_item_on_this_interpreter():
    _check(sys.version_info[:2], _observe_here())


@pytest.mark.parametrize("python", _pyenv_pythons(), ids=lambda p: p.split(os.sep)[-3])
def test_counts_per_item_on_each_pyenv_python(python):
    if not os.path.exists(python):
        pytest.skip(f"{python} is not installed here")
    _check(*_observe_in(python))


def test_this_modules_frames_and_nothing_outside_run_are_counted():
    def run():
        return sum(range(3))

    counts = count_bytecodes(run)
    assert [key[0] for key in counts] == ["test_this_modules_frames_and_nothing_outside_run_are_counted.<locals>.run"]
    assert counts[next(iter(counts))]["RETURN_VALUE"] == 1


def test_keys_take_the_path_from_the_top_of_the_package(tmp_path):
    sub = tmp_path / "outside" / "pkg" / "sub"
    sub.mkdir(parents=True)
    (tmp_path / "outside" / "pkg" / "__init__.py").write_text("")
    (sub / "__init__.py").write_text("")
    short = bytecodes._short_filename
    assert short(str(sub / "mod.py")) == "pkg/sub/mod.py"
    assert short(str(tmp_path / "outside" / "loose.py")) == "loose.py"
    assert short("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"
    assert short("<string>") == "<string>"
    import asyncio.base_events

    assert short(asyncio.base_events.__file__) == "asyncio/base_events.py"


def test_per_item_cancels_the_fixed_cost_and_leaves_out_what_does_not_grow():
    key, fixed_only = ("f", "m.py", 1), ("setup", "m.py", 9)
    small = {key: {"LOAD_FAST": 2 + 3 * 10, "CALL": 1}, fixed_only: {"CALL": 4}}
    large = {key: {"LOAD_FAST": 2 + 3 * 30, "CALL": 1, "YIELD_VALUE": 20}, fixed_only: {"CALL": 4}}
    assert per_item(small, large, 10, 30) == {key: {"LOAD_FAST": 3.0, "YIELD_VALUE": 1.0}}
    with pytest.raises(ValueError, match="two different sizes"):
        per_item(small, large, 10, 10)


def test_rows_round_trip_through_json():
    counts = {("g", "a.py", 3): {"NOP": 2}, ("f", "b.py", 1): {"CALL": 1, "NOP": 5}}
    rows = json.loads(json.dumps(to_rows(counts)))
    assert [row["function"] for row in rows] == ["f", "g"]
    assert from_rows(rows) == counts
