"""A fleet federation over separate processes: one Flower SuperLink, one SuperNode per group of EVs
and ``flwr run`` of the fleet's Flower app (``gridledger v2v federate``).

Topology (``docs/v2v.md``, "A federation across machines")::

    flower-superlink --host HOST --port PORT
        |   (Flower 1.41 serves its Fleet API, where SuperNodes connect, its Control API, where
        |    ``flwr run`` submits the app, and its Runtime API over HTTP on HOST:PORT)
        +-- flower-superlink spawns the ServerApp (PoSOC-FedAvg strategy) in its own process
    flower-supernode --superlink HOST:PORT --node-config "partition-id=p num-partitions=P"   (x P)
        +-- each round spawns a ClientApp process that trains the node's EVs

Here every process runs on 127.0.0.1 with free ports; on several machines the same commands
run with the SuperLink's address (:func:`write_app` writes the app that ``flwr run`` submits).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gridledger.errors import GridledgerError

APP_MODULE = "gridledger_fleet_app"


class FederationError(GridledgerError):
    """A process of the federation failed (its log's tail is in the message)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def flower_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("flwr") is not None


def require_flower() -> None:
    from gridledger.errors import ConfigError

    if not flower_available():
        raise ConfigError("backend", "flower needs the optional extra: pip install 'gridledger[flower]'")


def write_app(directory: Path, cfg: Any, seed: int, out: str = "", round_timeout: float = 600.0,
              nodes: int = 0) -> Path:
    """The Flower app (``pyproject.toml`` + a module naming the components) for ``flwr run``."""
    import tomli_w

    from gridledger.learn.fleet.distributed import check_flower_config
    from gridledger.learn.fleet.flower import run_config_value

    check_flower_config(cfg)
    directory.mkdir(parents=True, exist_ok=True)
    config = {**run_config_value(cfg, seed, out, round_timeout), "nodes": nodes}
    project = {"project": {"name": "gridledger-fleet", "version": "1.0.0", "license": "Apache-2.0",
                           "description": "gridledger EV fleet: federated PPO with a PoSOC mLAG (thesis Algorithm 4)",
                           "dependencies": []},
               "tool": {"flwr": {"app": {"publisher": "gridledger",
                                         "components": {"serverapp": f"{APP_MODULE}:server_app",
                                                        "clientapp": f"{APP_MODULE}:client_app"},
                                         "config": config}}}}
    (directory / "pyproject.toml").write_text(tomli_w.dumps(project), encoding="utf-8")
    (directory / f"{APP_MODULE}.py").write_text(
        '"""The gridledger fleet\'s Flower app (components of pyproject.toml)."""\n\n'
        "from gridledger.learn.fleet.flower import client_app, server_app\n\n"
        '__all__ = ["client_app", "server_app"]\n', encoding="utf-8")
    return directory


class LocalFederation:
    """A SuperLink and ``nodes`` SuperNodes on 127.0.0.1 (free ports), as separate processes.

    ``node_configs[p]`` adds keys to node p's config (test hooks). Use as a context manager:
    every process is stopped on exit (process groups, SIGTERM then SIGKILL)."""

    def __init__(self, nodes: int, workdir: Path | None = None,
                 node_configs: dict[int, dict[str, Any]] | None = None, host: str = "127.0.0.1") -> None:
        require_flower()
        self.nodes, self.host = nodes, host
        self._tmp = tempfile.TemporaryDirectory(prefix="gridledger-flower-") if workdir is None else None
        self.dir = Path(self._tmp.name if self._tmp is not None else workdir)  # type: ignore[arg-type]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.node_configs = node_configs or {}
        self.home = self.dir / "flwr-home"
        self.home.mkdir(exist_ok=True)
        self.bin = Path(sys.executable).parent
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self._logs: list[Any] = []
        self.token = secrets.token_hex(8)

    def _env(self, name: str = "") -> dict[str, str]:
        env = dict(os.environ)
        # Flower detaches the processes it spawns (ServerApp, SuperExec, ClientApps: new sessions);
        # they inherit these variables, by which stop() and kill_node() find them.
        env["GRIDLEDGER_FEDERATION"] = self.token
        env["GRIDLEDGER_FEDERATION_PROCESS"] = name
        env["FLWR_HOME"] = str(self.home)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start(self, name: str, args: list[str]) -> None:
        logf = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self._logs.append(logf)
        self.procs[name] = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=self._env(name),
                                            cwd=self.dir, start_new_session=True)

    def log_tail(self, name: str, lines: int = 30) -> str:
        p = self.dir / f"{name}.log"
        return "\n".join(p.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) if p.exists() else ""

    def start(self) -> LocalFederation:
        h = self.host
        self.ports["superlink"] = port = free_port(h)
        (self.home / "config.toml").write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "{h}:{port}"\n'
            "insecure = true\n", encoding="utf-8")
        # Flower 1.41 serves the Fleet, Control and Runtime APIs over HTTP on one address.
        self._start("superlink", [str(self.bin / "flower-superlink"), "--insecure", "--host", h, "--port", str(port),
                                  "--disable-runtime-dependency-installation"])
        self._wait_listening("superlink", port)
        for p in range(self.nodes):
            port = free_port(h)
            self.ports[f"node{p}"] = port
            conf = {"partition-id": p, "num-partitions": self.nodes, **self.node_configs.get(p, {})}
            conf_s = " ".join(f"{k}={json.dumps(v)}" for k, v in conf.items())
            self._start(f"node{p}", [str(self.bin / "flower-supernode"), "--insecure",
                                     "--superlink", f"{h}:{self.ports['superlink']}", "--host", h, "--port", str(port),
                                     "--node-config", conf_s])
        return self

    def _wait_listening(self, name: str, port: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.procs[name].poll() is not None:
                raise FederationError(f"{name} exited:\n{self.log_tail(name)}")
            try:
                with socket.create_connection((self.host, port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise FederationError(f"{name} is not listening on {self.host}:{port}:\n"
                                          f"{self.log_tail(name)}") from None
                time.sleep(0.2)

    def spawned(self, name: str | None = None) -> list[int]:
        """Processes of this federation (``name``: of one of its processes), found by the variables
        they inherit (Linux /proc; elsewhere only the processes started here are known)."""
        pids = []
        want = f"GRIDLEDGER_FEDERATION={self.token}".encode()
        who = f"GRIDLEDGER_FEDERATION_PROCESS={name}".encode() if name is not None else None
        for d in Path("/proc").glob("[0-9]*"):
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if want in env and (who is None or who in env) and int(d.name) != os.getpid():
                pids.append(int(d.name))
        return pids

    def _kill(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def kill_node(self, p: int) -> None:
        """Kill SuperNode p and its ClientApp processes at once (SIGKILL), as a crash would."""
        proc = self.procs[f"node{p}"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        self._kill(self.spawned(f"node{p}"))
        proc.wait()

    def run(self, cfg: Any, seed: int, round_timeout: float = 600.0, timeout: float = 7200.0) -> dict[str, Any]:
        """Submit the fleet's app with ``flwr run`` and wait for the result (written by the ServerApp)."""
        out = self.dir / f"result-{time.time_ns()}.json"
        app = write_app(self.dir / "app", cfg, seed, str(out), round_timeout, self.nodes)
        with open(self.dir / "flwr-run.log", "ab") as logf:
            proc = subprocess.Popen([str(self.bin / "flwr"), "run", str(app), "local", "--stream"], stdout=logf,
                                    stderr=subprocess.STDOUT, env=self._env("flwr-run"), cwd=self.dir,
                                    start_new_session=True)
            self.procs["flwr-run"] = proc
            deadline = time.monotonic() + timeout
            while not out.exists():
                if proc.poll() is not None and not out.exists():
                    time.sleep(2.0)  # the result is written before the run's stream closes
                    if not out.exists():
                        raise FederationError(f"the federated run ended without a result:\n"
                                              f"{self.log_tail('flwr-run')}\n{self.log_tail('superlink')}")
                for name, pr in self.procs.items():
                    if name == "superlink" and pr.poll() is not None:
                        raise FederationError(f"the SuperLink exited:\n{self.log_tail('superlink')}")
                if time.monotonic() > deadline:
                    raise FederationError(f"no result after {timeout:.0f} s:\n{self.log_tail('flwr-run')}")
                time.sleep(0.2)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
        return read_result(out)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):  # what the group left (ClientApp)
                os.killpg(proc.pid, signal.SIGKILL)
        self._kill(self.spawned())
        for f in self._logs:
            f.close()
        self._logs.clear()

    def __enter__(self) -> LocalFederation:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def read_result(path: Path) -> dict[str, Any]:
    import numpy as np

    data = json.loads(path.read_text(encoding="utf-8"))
    with np.load(path.with_suffix(".npz")) as z:
        data["global"] = {k: z[k] for k in z.files}
    return data
