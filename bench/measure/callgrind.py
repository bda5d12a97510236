"""callgrind's client request to start instrumenting, made from Python (no C extension, no compiler).

``count`` starts its process under ``valgrind --tool=callgrind --instr-atstart=no``:
the interpreter's start-up and imports (asyncio's alone took 1.8 s of the
~4 s a counted process spent before its first cell) then run at valgrind's
uninstrumented speed, and the counting process asks callgrind to instrument
from just before its first cell on. Instructions executed are the program's,
not the instrumentation's: a counted region gives the same totals whether
instrumentation began at start-up or before the region.

A client request is a fixed instruction sequence that does nothing on a real
CPU and that valgrind's translator recognises (``valgrind.h``); it is written
into one executable page and called through ctypes. Only x86-64's sequence is
known here: elsewhere, or where executable pages are refused, ``available()``
says so and ``count`` instruments from the start, as before.
"""

from __future__ import annotations

import os

#: ``VG_USERREQ_TOOL_BASE('C', 'T')``: callgrind's requests (callgrind.h).
_CALLGRIND_BASE = (ord("C") << 24) | (ord("T") << 16)
#: ``VG_USERREQ__START_INSTRUMENTATION`` (the fifth of callgrind's requests).
START_INSTRUMENTATION = _CALLGRIND_BASE + 4
#: ``VG_USERREQ__RUNNING_ON_VALGRIND`` (valgrind.h): 1 under valgrind, the default (0) on a real CPU.
RUNNING_ON_VALGRIND = 0x1001

#: ``request(args, default) -> result`` on x86-64 (System V: args in rdi, default in rsi): valgrind.h's
#: client request, with rax pointing at the six words and the answer in rdx (the default when not under
#: valgrind). The four rotations of rdi add up to 128 bits: rdi is unchanged on a real CPU.
_X86_64 = bytes.fromhex(
    "4889f8"    # mov rax, rdi      ; the request's six words
    "4889f2"    # mov rdx, rsi      ; the default answer
    "48c1c703"  # rol rdi, 3        ; the preamble valgrind recognises
    "48c1c70d"  # rol rdi, 13
    "48c1c73d"  # rol rdi, 61
    "48c1c733"  # rol rdi, 51
    "4887db"    # xchg rbx, rbx     ; "do the client request"
    "4889d0"    # mov rax, rdx      ; return the answer
    "c3"        # ret
)

_request = None


def _make():
    global _request
    if _request is None:
        import ctypes
        import mmap

        # The kernel's machine and this interpreter's word size: a 32-bit Python on an x86-64 kernel would run
        # these bytes as other instructions, and valgrind would never see the request.
        if os.uname().machine not in ("x86_64", "amd64") or ctypes.sizeof(ctypes.c_void_p) != 8:
            raise OSError(f"no client request for a {8 * ctypes.sizeof(ctypes.c_void_p)}-bit process on "
                          f"{os.uname().machine}")
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(_X86_64)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        function = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t)(address)
        _request = (page, function)  # the page lives as long as the function
    return _request[1]


def available() -> str | None:
    """None when this process can make client requests; otherwise why not (one line)."""
    try:
        request(RUNNING_ON_VALGRIND)
    except (OSError, ValueError, AttributeError, ImportError) as exc:
        return str(exc) or type(exc).__name__
    return None


def request(code: int, *args: int) -> int:
    """Make client request ``code`` with up to five arguments; 0 when not under valgrind."""
    import ctypes

    words = (ctypes.c_size_t * 6)(code, *args)
    return _make()(ctypes.addressof(words), 0)


def running_on_valgrind() -> bool:
    return request(RUNNING_ON_VALGRIND) != 0


def start_instrumentation() -> None:
    """callgrind instruments from here on (a no-op when not under callgrind)."""
    request(START_INSTRUMENTATION)
