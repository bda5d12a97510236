"""Writing files: atomically (a temporary file, then a rename), after checking the place before measuring.

Every file the suite writes goes through ``write_atomic``: an interrupted or
failing command leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import tempfile


class OutputError(ValueError):
    """An output path cannot take the file; one line naming it."""


def write_atomic(path: str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".aiterbench-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not results
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def uninterrupted():
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it: a few renames finish together.

    Only the main thread can take signals; elsewhere this holds nothing.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def dump_suite(suite, path: str) -> None:
    """Atomically write a pyperf suite as JSON, gzip-compressed when ``path`` ends in ``.gz`` (as pyperf does)."""
    import io

    buf = io.StringIO()
    suite.dump(buf, compact=True)
    data = buf.getvalue()
    if path.endswith(".gz"):
        import gzip

        write_atomic(path, gzip.compress(data.encode("utf-8"), mtime=0))
    else:
        write_atomic(path, data)


def check_writable(path: str) -> None:
    """Fail now, before any measuring, if ``path``'s folder cannot take a file."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory")
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".aiterbench-probe-", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)


def default_output(kind: str, suffix: str = ".json") -> str:
    """``results/<kind>-<time><suffix>``; ``aiterbench`` files also name the Python (aiterbench-cpython311-...)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if kind == "aiterbench":
        impl = platform.python_implementation().lower()
        kind += "-" + impl + "".join(platform.python_version_tuple()[:2])
    return os.path.join("results", f"{kind}-{stamp}{suffix}")


def make_folder(path: str, option: str | None = None) -> None:
    """Make the folder that is to hold ``path`` (and its parents) when missing; OutputError when it cannot be."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        hint = f"; pass {option}" if option else ""
        raise OutputError(f"{path}: cannot create its folder {folder} ({exc.strerror or exc}){hint}") from None


def prepare_output(output: str, *, default: bool = False, force: bool = False, append: bool = False,
                   what: str = "result", can_append: bool = False, option: str = "-o") -> None:
    """Fail before measuring (OutputError, one line) unless ``output`` can take the file.

    Its folder is made when missing, as pytest's ``--junitxml`` does (``default``:
    the path was not given, so the error names ``option``).
    An existing file needs ``force`` (or ``append``, for commands that add to it).
    """
    make_folder(output, option if default else None)
    if os.path.isdir(output):
        raise OutputError(f"{output}: is a directory, expected a {what} file path")
    if os.path.exists(output) and not (force or append):
        hint = "pass --append to add to it or --force to replace it" if can_append else "pass --force to replace it"
        raise OutputError(f"{output} exists: {hint}")
    check_writable(output)
