"""aiterbench: the per-item cost of Python's async iteration, per event loop, on pyperf.

The layers, top to bottom (imports point down only; ``tests/test_architecture.py``
holds them with import-linter):

* ``aiterbench.cli``: the commands, parsing and dispatch; and ``aiterbench.pytest_plugin``;
* ``aiterbench.reports``: the HTML page, summary, CSV and charts;
* ``aiterbench.orchestrate``: the parent side of measuring (rounds, child processes,
  Ctrl-C, ``ab`` sides, calibration, progress); and ``aiterbench.analysis``: tables,
  verdicts and formats for ``show``, ``compare`` and ``report`` (public);
* ``aiterbench.measure``: what a worker process runs (the timed region, the equivalence
  check, the pyperf script, the counted, traced and profiled processes);
* ``aiterbench.model``: cells, loops, environments, result files and the history store;
* ``aiterbench.stats``: the per-process fit, verdicts and change points, on plain numbers;
* ``aiterbench.impls``: the implementations, which know nothing of the harness (public).

Kept tiny: worker processes import this package, so nothing heavy belongs here.
"""

from ._version import FORMAT_VERSION, __version__

__all__ = ["main", "__version__", "FORMAT_VERSION"]

#: The exit code of an interrupted command (Ctrl-C).
_INTERRUPTED = 130


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    try:
        from .cli import main as _main
    except KeyboardInterrupt:  # Ctrl-C while starting up: one line and 130, as anywhere else
        import sys

        print("aiterbench: interrupted", file=sys.stderr)
        return _INTERRUPTED
    return _main(argv)


def console() -> None:
    """The ``aiterbench`` command and ``python -m aiterbench``: run, then exit with main's code.

    An interrupted command exits 130 at once, its output flushed. CPython itself would kill the process with
    SIGINT on the way out (a caller sees -2, not 130) whenever Ctrl-C had landed inside code run by ``exec`` of
    a string, such as a dataclass being created by a lazy import, even though main caught the interrupt:
    under load, one Ctrl-C in ten in the first second. Everything main wrote is closed by then.
    """
    import os
    import sys

    code = main()
    if code == _INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
