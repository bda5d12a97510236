"""aiterbench: the per-item cost of Python's async iteration, per event loop, on pyperf.

Kept tiny: worker processes import this package, so nothing heavy belongs here.
"""

from ._version import FORMAT_VERSION, __version__

__all__ = ["main", "__version__", "FORMAT_VERSION"]


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    from ._cli import main as _main

    return _main(argv)
