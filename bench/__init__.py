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


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    try:
        from .cli import main as _main
    except KeyboardInterrupt:  # Ctrl-C while starting up: one line and 130, as anywhere else
        import sys

        print("aiterbench: interrupted", file=sys.stderr)
        return 130
    return _main(argv)
