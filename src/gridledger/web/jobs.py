"""A computation of seconds of CPU run once, in another process, never inside a request.

:class:`ProcessJob` runs one command in a child process (the command writes its JSON result to
the file named by its last argument), watched by one thread of the server. ``start()`` is the
single guarded trigger: the first caller (the server's start-up, or the first request of an app
served without one) starts it; every later call, from however many threads at once, returns at
once without starting anything. Nobody waits for it: readers ask ``status`` and answer "pending"
meanwhile. A run that fails or exceeds its timeout is not retried (a client cannot make the server
repeat it); the server's restart tries again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import Any

IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"


class ProcessJob:
    """``argv + [output path]`` run at most once per job; ``on_result(result)`` is called with the
    parsed JSON before the job reads as done."""

    def __init__(self, argv: Sequence[str], timeout_seconds: float = 600.0) -> None:
        self.argv = list(argv)
        self.timeout_seconds = timeout_seconds
        self.status = IDLE
        self.error: str | None = None
        self.runs = 0
        """Processes started by this job (0 or 1)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._finished = threading.Event()
        self._stopped = False

    def start(self, on_result: Callable[[Any], None], skip: Callable[[], bool] | None = None) -> bool:
        """Start the computation unless it was started before (or ``skip()`` says its result is
        already there: the job then reads as done without running). Never blocks on the
        computation; returns whether this call started it."""
        with self._lock:
            if self.status != IDLE or self._stopped:
                return False
            if skip is not None and skip():
                self.status = DONE
                self._finished.set()
                return False
            self.status = RUNNING
            self.runs += 1
        threading.Thread(target=self._run, args=(on_result,), daemon=True, name="gridledger-job").start()
        return True

    def _run(self, on_result: Callable[[Any], None]) -> None:
        status, error = FAILED, None
        try:
            with tempfile.TemporaryDirectory(prefix="gridledger-job-") as tmp:
                out = os.path.join(tmp, "result.json")
                with self._lock:
                    if self._stopped:
                        raise RuntimeError("stopped before it started")
                    self._proc = proc = subprocess.Popen([*self.argv, out], stdin=subprocess.DEVNULL,
                                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    code = proc.wait(timeout=self.timeout_seconds)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(f"stopped after {self.timeout_seconds:g} s") from None
                if code != 0:
                    raise RuntimeError(f"the computation exited with code {code}")
                with open(out, encoding="utf-8") as f:
                    result = json.load(f)
            on_result(result)
            status = DONE
        except Exception as exc:  # the reason is shown; the server keeps serving
            error = str(exc) or type(exc).__name__
        finally:
            with self._lock:
                self._proc = None
                self.status, self.error = status, error
            self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Until the job has finished (for tests and shutdown; requests never wait)."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """Kill a running computation and refuse to start one (the server is stopping)."""
        with self._lock:
            self._stopped = True
            proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
