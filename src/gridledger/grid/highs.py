"""HiGHS models that never write to stdout.

highspy 1.16 prints ``Running HiGHS ... Copyright`` on the C-level standard output when the
first ``Highs`` object of a process is made, before any option can be set; that would break
``--json`` (one JSON document on stdout). :func:`new_highs` makes the object with file
descriptor 1 pointed at standard error, then switches HiGHS's own output off.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator

import highspy

_LOCK = threading.Lock()
_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Redirect the process's file descriptor 1 to descriptor 2 (C and Python writers alike)."""
    with _LOCK:
        sys.stdout.flush()
        _LIBC.fflush(None)
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            yield
        finally:
            _LIBC.fflush(None)  # C stdio buffers (a pipe is fully buffered) go to stderr, not to stdout later
            os.dup2(saved, 1)
            os.close(saved)


def new_highs(threads: int = 1, presolve: str = "off") -> highspy.Highs:
    """A silent ``Highs`` (output off) with the options small LPs solve fastest with (MEASURED.md)."""
    with stdout_to_stderr():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", threads)
    h.setOptionValue("presolve", presolve)
    return h
