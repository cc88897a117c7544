"""What an installation runs on: versions, CPU, threads, chain backends, browsers, and the lock.

:func:`environment` feeds ``gridledger doctor`` and (in its light form) every ``results.json``:
results computed with torch or numba are bit-identical only on the same CPU kernels, so a
result records which ones it ran on.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import gridledger

KEY_PACKAGES = ("numpy", "scipy", "numba", "llvmlite", "torch", "gymnasium", "pettingzoo", "stable-baselines3",
                "pymoo", "highspy", "pandas", "pandapower", "web3", "eth-tester", "py-evm", "fastapi", "uvicorn")
"""Packages whose versions change results or behaviour."""

CPU_ENV = ("ATEN_CPU_CAPABILITY", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
           "NUMBA_NUM_THREADS")
"""Environment variables that choose kernels or threads."""

REPO = Path(__file__).resolve().parents[2]
"""The checkout this package was installed from in editable mode (not meaningful for a wheel)."""


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def _cpu_model_and_flags() -> tuple[str, set[str]]:
    model: str | None = None
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:  # the first processor's entry is enough
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
                if flags and model:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def cpu_info() -> dict[str, Any]:
    """CPU model, logical cores and the widest vector ISA the CPU offers (which kernels torch/numba may pick)."""
    model, flags = _cpu_model_and_flags()
    isa = next((name for name, flag in (("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx"), ("sse4.2", "sse4_2"))
                if flag in flags), platform.machine())
    out: dict[str, Any] = {"model": model, "machine": platform.machine(), "logical_cores": os.cpu_count(), "isa": isa,
                           "env": {k: os.environ[k] for k in CPU_ENV if k in os.environ}}
    if "torch" in sys.modules:  # only when already loaded: importing torch costs seconds
        torch = sys.modules["torch"]
        with contextlib.suppress(AttributeError):
            out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    if "numba" in sys.modules:
        try:
            import llvmlite.binding as llvm

            out["numba_cpu_name"] = os.environ.get("NUMBA_CPU_NAME") or llvm.get_host_cpu_name()
        except Exception:
            pass
    return out


def threads() -> dict[str, Any]:
    out: dict[str, Any] = {"os_cpu_count": os.cpu_count()}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    if "numba" in sys.modules:
        out["numba"] = sys.modules["numba"].config.NUMBA_NUM_THREADS
    return out


def _command_version(path: str | None, *args: str) -> str | None:
    if path is None:
        return None
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return f"{path} (does not run)"
    first = (out.stdout or out.stderr).strip().splitlines()
    return f"{first[0]} ({path})" if first else path


def anvil_path() -> str | None:
    """The anvil binary of ``contracts/node_modules`` (installed by ``make test``) or on PATH."""
    local = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    return str(local) if local.exists() else shutil.which("anvil")


def chain_backends(probe: bool = True) -> dict[str, str | None]:
    py_evm = _version("py-evm")
    out: dict[str, str | None] = {"embedded": f"py-evm {py_evm}, eth-tester {_version('eth-tester')}"
                                  if py_evm else None}
    anvil = anvil_path()
    out["anvil"] = _command_version(anvil, "--version") if probe else anvil
    return out


def browsers(probe: bool = True) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("chromium", "chromedriver"):
        path = shutil.which(name)
        out[name] = _command_version(path, "--version") if probe else path
    return out


def environment(probe: bool = True) -> dict[str, Any]:
    """Everything above; ``probe=False`` skips starting external programs (for results.json)."""
    return {"gridledger": gridledger.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "packages": {p: _version(p) for p in KEY_PACKAGES},
            "cpu": cpu_info(), "threads": threads(), "chain_backends": chain_backends(probe),
            "browsers": browsers(probe)}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str | Path) -> dict[str, str]:
    """``name -> version`` of a pip requirements lock (``name==version \\`` lines with hashes)."""
    pins: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(3)
    return pins


IGNORED = frozenset({"pip", "setuptools", "wheel", "gridledger"})
"""Installer tooling and the project itself are not part of the comparison."""


def lock_differences(path: str | Path) -> list[str]:
    """Differences between the installed distributions and the lock at ``path`` (empty: identical)."""
    lock = read_lock(path)
    installed = {_norm(d.metadata["Name"]): d.version for d in md.distributions() if d.metadata["Name"]}
    out = []
    for name in sorted((lock.keys() | installed.keys()) - IGNORED):
        want, have = lock.get(name), installed.get(name)
        if want == have:
            continue
        if want is None:
            out.append(f"{name}=={have} is installed but not in the lock")
        elif have is None:
            out.append(f"{name}=={want} is in the lock but not installed")
        else:
            out.append(f"{name}: lock {want}, installed {have}")
    return out
