"""The aiter_benchmark fixture: every impl through pytest-benchmark; found by pytest outside this repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from aiterbench import impls
from aiterbench.model.loops import LOOPS
from aiterbench.pytest_plugin import AiterBenchmark

from .conftest import AVAILABLE_LOOPS

pytest.importorskip("pytest_benchmark")

ASYNC_IMPLS = [i.name for i in impls.registry().impls if i.family != "sync" and "none" in i.workloads]


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
@pytest.mark.parametrize("impl", ASYNC_IMPLS)
def test_every_impl_runs_through_the_fixture(aiter_benchmark, impl, loop):
    """This suite runs with --benchmark-disable (pyproject): each iterates once, checked, untimed."""
    factory = impls.registry().factory(impl, "none")
    assert aiter_benchmark(factory, sizes=(10, 100), loop=loop) == {}


def _pytest_outside(tmp_path, test_source: str, *args: str) -> subprocess.CompletedProcess:
    """Run pytest on one test file in a folder outside this repository, finding the plugin by its entry point."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(test_source))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}  # xdist's too
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


USER_TEST = '''
    async def numbers(n):
        for i in range(n):
            yield i


    class Numbers:
        def __init__(self, n):
            self.i, self.n = 0, n

        def __aiter__(self):
            return self

        async def __anext__(self):
            if self.i >= self.n:
                raise StopAsyncIteration
            self.i += 1
            return self.i - 1


    def test_generator(aiter_benchmark):
        aiter_benchmark(numbers, sizes=(50, 500), rounds=5)


    def test_class(aiter_benchmark):
        aiter_benchmark(Numbers, sizes=(50, 500), rounds=5, loop="LOOP")
'''


def test_the_plugin_is_found_outside_the_repository_and_fills_extra_info(tmp_path):
    loop = AVAILABLE_LOOPS[-1]
    proc = _pytest_outside(tmp_path, USER_TEST.replace("LOOP", loop), "--benchmark-json", "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    assert set(by_name) == {"test_generator", "test_class"}
    for name, bench in by_name.items():
        info = bench["extra_info"]
        assert info["aiterbench_sizes"] == [50, 500] and info["aiterbench_items"] == 500
        assert info["aiterbench_seconds_per_item"] > 0
        assert info["aiterbench_loop"] == ("asyncio" if name == "test_generator" else loop)
        assert info["aiterbench_loop_version"] == LOOPS[info["aiterbench_loop"]].version
        assert bench["stats"]["rounds"] == 5 and bench["stats"]["median"] > 0


def test_bad_use_fails_the_test_with_one_clear_line(tmp_path):
    source = '''
        def test_not_async(aiter_benchmark):
            aiter_benchmark(lambda n: list(range(n)))


        def test_unknown_loop(aiter_benchmark):
            aiter_benchmark(lambda n: None, loop="tokio")
    '''
    proc = _pytest_outside(tmp_path, source, "--benchmark-disable")
    assert proc.returncode == 1
    assert "aiter_benchmark: factory(100) returned list, not an async iterable" in proc.stdout
    assert "aiter_benchmark: unknown loop 'tokio'" in proc.stdout
    assert "pytest_plugin.py" not in proc.stdout  # the user's mistake, not our traceback


class _FakeBenchmark:
    disabled = False
    extra_info: dict = {}


class _RecordingBenchmark(_FakeBenchmark):
    """Enough of pytest-benchmark's fixture for a timed call: pedantic runs the target once per round."""

    def __init__(self) -> None:
        self.extra_info, self._timer, self.has_error = {}, None, False

    def pedantic(self, target, setup, rounds, warmup_rounds=0, iterations=1):
        for _ in range(rounds + warmup_rounds):
            args, kwargs = setup()
            target(*args, **kwargs)


def test_the_slope_alternates_the_two_sizes_round_by_round():
    """Drift between a block of n1 rounds and a block of n2 rounds would go straight into the slope."""
    asked = []

    async def numbers(n):
        for i in range(n):
            yield i

    def factory(n):
        asked.append(n)
        return numbers(n)

    info = AiterBenchmark(_RecordingBenchmark(), "asyncio")(factory, sizes=(10, 100), rounds=6, warmup_rounds=0)
    slope = asked[2 + 6:]  # after the untimed check of each size and pytest-benchmark's rounds
    assert slope == [10, 100, 100, 10] * 3
    assert info["aiterbench_items"] == 100 and info["aiterbench_sizes"] == [10, 100]


def test_a_loop_that_is_not_installed_is_named_with_its_install_line(monkeypatch):
    monkeypatch.setattr(type(LOOPS["uvloop"]), "available", property(lambda self: self.name != "uvloop"))
    with pytest.raises(pytest.fail.Exception, match=r"loop 'uvloop' is not installed: pip install 'aiterbench\[uvloop\]'"):
        AiterBenchmark(_FakeBenchmark(), "asyncio")(lambda n: None, loop="uvloop")


def test_the_readme_example_runs_outside_the_repository(tmp_path):
    from .test_readme import PYTHON_BLOCKS

    block = next(b for b in PYTHON_BLOCKS if "aiter_benchmark" in b)
    proc = _pytest_outside(tmp_path, block, "--benchmark-json", "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (bench,) = json.loads((tmp_path / "out.json").read_text())["benchmarks"]
    assert bench["extra_info"]["aiterbench_sizes"] == [100, 1000]
