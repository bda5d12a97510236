"""``profile``, the parent half: where one cell's time goes, per item, with cProfile or pyinstrument.

The profiled process sets up the loop, checks the cell, opens every source
and drains one iterator unprofiled (specialization and caches settle); only
then does the profiler start, around the drains and nothing else. Figures
are divided by the items drained: calls per item are exact with cProfile,
times per item include the profiler's own cost per call, so they rank
functions against each other and are not ``run``'s ns/item.
A profile is never written as a timing result.
"""

from __future__ import annotations

import os
import tempfile

from ..measure.profile import MAX_SOURCES
from .children import CHECK_TIMEOUT

PYINSTRUMENT_EXTRA = "pip install 'aiterbench[profile]'"
PROFILE_TIMEOUT = 600.0

__all__ = ["MAX_SOURCES", "PYINSTRUMENT_EXTRA", "run_profile"]


def run_profile(cell, tool: str, n: int, repeat: int, modules, env, data_path: str | None,
                check_timeout: float = CHECK_TIMEOUT) -> dict:
    """Profile ``cell`` in a worker process; its figures, and (if asked) the profile at ``data_path``.
    ``check_timeout``: the limit on the cell's equivalence check."""
    from ..model.files import write_atomic
    from .children import run_for_json
    from .workers import command

    with tempfile.TemporaryDirectory(prefix="aiterbench-profile-") as tmp:
        out = os.path.join(tmp, "out.json")
        data = os.path.join(tmp, "data")
        cmd = command("--profile", ["--cell", cell.name, "-n", str(n), "--repeat", str(repeat), "--tool", tool,
                                    "--check-timeout", repr(check_timeout), "-o", out] + (["--data", data] if data_path else []),
                      modules)
        result = run_for_json(cmd, out, PROFILE_TIMEOUT, env, check_timeout, "profiling")
        if data_path:
            with open(data, "rb") as f:
                write_atomic(data_path, f.read())
    return result
