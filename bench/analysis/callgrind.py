"""callgrind's output files, read into self instructions per function and calls per caller and callee.

One file is one dump: what callgrind counted inside one counted call
(``count`` dumps after each). A function is keyed by its name, with
callgrind's recursion suffix (``'2``) merged into the name it suffixes, and
its object file's path; ``objects`` says what the path is (libpython, libc, an
event loop's extension) in a form that two interpreters share. The format is
valgrind's (https://valgrind.org/docs/manual/cl-format.html): name
compression ``(id) name``, relative positions (``+3``, ``-2``, ``*``), and a
cost line after each ``calls=`` line that is the call's inclusive cost, not
the caller's self cost. Standard library only.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Mapping

#: Which name table each specification line's compressed ids live in.
_TABLES = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "fn": "fn",
           "cfn": "fn"}
_RECURSION = re.compile(r"'\d+$")
_ID = re.compile(r"\((\d+)\)(?: (.*))?$")


class CallgrindError(ValueError):
    """A file that is not callgrind's output, or not whole."""


@dataclasses.dataclass(frozen=True)
class Profile:
    """One dump: self instructions per function, and (calls, inclusive instructions) per caller and callee.

    Functions are ``(name, object path)``; ``total`` is the dump's own total, which the self costs add up to.
    """

    total: int
    self_cost: Mapping[tuple[str, str], int]
    calls: Mapping[tuple[tuple[str, str], tuple[str, str]], tuple[int, int]]

    def __post_init__(self) -> None:
        if sum(self.self_cost.values()) != self.total:
            raise CallgrindError(f"the functions' self instructions add up to {sum(self.self_cost.values())}, "
                                 f"not to the dump's total {self.total}")


def parse(path: str) -> Profile:
    """Read one callgrind output file (a single dump); CallgrindError if it is not one."""
    names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
    fn_object: dict[str, str] = {}  # fn id -> its object, from the ``ob=`` in force where it is defined
    self_cost: dict = {}
    calls: dict = {}
    ob = cob = ""
    fn = cfn = None
    pending = None  # (callee, count): the next cost line is that call's inclusive cost
    total = None
    events_ok = False

    def name(kind: str, rest: str) -> tuple[str, str]:
        m = _ID.match(rest)
        if not m:  # uncompressed
            return rest, rest
        table = names[_TABLES[kind]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        try:
            return m.group(1), table[m.group(1)]
        except KeyError:
            raise CallgrindError(f"{path}: {kind}=({m.group(1)}) used before it is named") from None

    def function(fid: str, fname: str, where: str) -> tuple[str, str]:
        fn_object.setdefault(fid, where)
        return _RECURSION.sub("", fname), fn_object[fid]

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                c = line[:1]
                if c.isdigit() or c in "+-*":
                    parts = line.split()
                    cost = int(parts[1]) if len(parts) > 1 else 0
                    if pending is not None:
                        key = (fn, pending[0])
                        count, inclusive = calls.get(key, (0, 0))
                        calls[key] = (count + pending[1], inclusive + cost)
                        pending, cob = None, ""  # a cob= names the object of one call's callee only
                    elif fn is None:
                        raise CallgrindError(f"{path}: a cost line before any function")
                    else:
                        self_cost[fn] = self_cost.get(fn, 0) + cost
                    continue
                if not line.strip() or c == "#":
                    continue
                key, sep, rest = line.rstrip("\n").partition("=")
                if sep:
                    if key == "ob":
                        ob = name("ob", rest)[1]
                    elif key == "fn":
                        fid, fname = name("fn", rest)
                        fn, cob = function(fid, fname, ob), ""
                    elif key == "cob":
                        cob = name("ob", rest)[1]
                    elif key == "cfn":
                        cfn = name("cfn", rest)
                    elif key == "calls":
                        if cfn is None or fn is None:
                            raise CallgrindError(f"{path}: calls= before a function and its callee")
                        pending = (function(cfn[0], cfn[1], cob or ob), int(rest.split()[0]))
                    elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                        name(key, rest)
                    continue
                key, _, rest = line.partition(":")
                if key == "events":
                    if rest.split() != ["Ir"]:
                        raise CallgrindError(f"{path}: events {rest.strip()!r}, expected Ir alone")
                    events_ok = True
                elif key in ("summary", "totals"):
                    total = int(rest.split()[0])
    except (OSError, ValueError, IndexError) as exc:
        if isinstance(exc, CallgrindError):
            raise
        raise CallgrindError(f"{path}: not a callgrind output file ({exc})") from None
    if total is None or not events_ok:
        raise CallgrindError(f"{path}: not a whole callgrind output file (no events or totals line)")
    return Profile(total, self_cost, calls)


#: Object files by what they are, whatever the version in their name: (pattern on the file name, short name).
#: The first match wins; an object none of them names is shown by its file name up to the first dot.
OBJECTS = (
    (re.compile(r"^libpython\d"), "libpython"),
    (re.compile(r"^python\d*(\.\d+)?t?d?$"), "python"),
    (re.compile(r"^libc\.so"), "libc"),
    (re.compile(r"^libm\.so"), "libm"),
    (re.compile(r"^ld-linux"), "ld-linux"),
    (re.compile(r"^libffi"), "libffi"),
    (re.compile(r"^_asyncio\."), "_asyncio"),
)


def object_name(path: str) -> str:
    """A short, version-free name for an object file: ``libpython``, ``python``, ``libc``, ``_asyncio``,
    ``uvloop/loop`` (an extension module: its package folder and module), ``???`` when unknown."""
    if not path or path == "???":
        return "???"
    base = os.path.basename(path)
    for pattern, short in OBJECTS:
        if pattern.search(base):
            return short
    stem = base.split(".", 1)[0]
    parent = os.path.basename(os.path.dirname(path))
    if ".cpython-" in base or base.endswith(".abi3.so"):  # an extension module: name its package too
        if parent and parent not in ("lib-dynload", "site-packages"):
            return f"{parent}/{stem}"
    return stem
