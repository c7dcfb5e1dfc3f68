"""A multi-node Ray cluster on one machine: a head and worker nodes as separate processes.

Each node is ``ray start --block`` in its own session, with its own ports, CPUs and a custom
resource ``node_<i>``; a node is lost by killing every process of its session (``kill -9``:
the raylet, its workers and agents), exactly what a crashed machine looks like
to the rest of the cluster. Token authentication is on (a fresh random token, passed to the
nodes and, through :attr:`LocalRayCluster.env`, to drivers). Used by the multi-node tests and
``benchmarks/ray/cluster.py``; also a way to try a cluster configuration without machines.

Example:
    >>> with LocalRayCluster(nodes=2) as c:                               # doctest: +SKIP
    ...     subprocess.run(["winnow", "run", "demo.yaml", "--executor", "ray",
    ...                     "--ray-address", c.address], env=c.env, check=True)
    ...     c.kill_node(0)                                                # node 0 is gone
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRayCluster:
    """A Ray head (no CPUs: it schedules, it does not compute) and ``nodes`` worker nodes of
    ``cpus_per_node`` CPUs each, as separate sessions; always stopped by :meth:`stop` (also on
    ``with`` exit), which kills every process of the sessions it started and removes its
    temporary folder.

    Args:
        nodes: worker nodes.
        cpus_per_node: CPUs each worker node offers.
        object_store_mb: object store of each node.
        pythonpath: extra ``PYTHONPATH`` entries for every node (default: the folder this
            ``winnow`` is imported from, so nodes run the same code as the driver).
        head_cpus: CPUs of the head (0: no task runs there).
    """

    def __init__(
        self,
        nodes: int = 2,
        cpus_per_node: int = 1,
        object_store_mb: int = 256,
        pythonpath: list[str] | None = None,
        head_cpus: int = 0,
    ):
        import winnow

        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.object_store_mb = object_store_mb
        self.head_cpus = head_cpus
        src = os.path.dirname(os.path.dirname(os.path.abspath(winnow.__file__)))
        paths = (pythonpath or []) + [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        # Ray's session paths end in unix sockets (at most 107 bytes): a short temporary folder
        self.tmp = tempfile.mkdtemp(prefix="wr", dir="/tmp")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.env.pop("RAY_ADDRESS", None)
        self._procs: list[subprocess.Popen] = []  # [head, node 0, node 1, ...]
        self._killed: set[int] = set()
        self._ray = os.path.join(os.path.dirname(sys.executable), "ray")

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "LocalRayCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start_node(self, args: list[str], log: str) -> subprocess.Popen:
        ports = {
            "--node-manager-port": free_port(),
            "--object-manager-port": free_port(),
            "--metrics-export-port": free_port(),
            "--dashboard-agent-listen-port": free_port(),
            "--dashboard-agent-grpc-port": free_port(),
            "--runtime-env-agent-port": free_port(),
        }
        cmd = [self._ray, "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
        cmd += ["--object-store-memory", str(self.object_store_mb << 20)]
        cmd += [x for kv in ports.items() for x in map(str, kv)] + args
        with open(os.path.join(self.tmp, log), "wb") as fh:
            p = subprocess.Popen(cmd, env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        self._procs.append(p)
        return p

    def start(self, timeout: float = 90.0) -> None:
        """Start the head, then the worker nodes; return when all of them are alive."""
        self._start_node(
            [
                "--head",
                "--port",
                str(self.port),
                "--num-cpus",
                str(self.head_cpus),
                "--temp-dir",
                self.tmp,
                "--include-dashboard",
                "false",
                "--dashboard-port",
                str(free_port()),
            ],
            "head.log",
        )
        self.wait_nodes(1, timeout)
        for i in range(self.nodes):
            self._start_node(
                [
                    "--address",
                    self.address,
                    "--num-cpus",
                    str(self.cpus_per_node),
                    "--resources",
                    json.dumps({f"node_{i}": 1}),
                ],
                f"node{i}.log",
            )
            self.wait_nodes(i + 2, timeout)  # one at a time: raylets starting together on one host can time out

    def alive_nodes(self) -> int:
        """Nodes the cluster reports alive (``ray status``; 0 if the head does not answer)."""
        r = subprocess.run(
            [self._ray, "status", "--address", self.address], env=self.env, capture_output=True, text=True, timeout=60
        )
        if r.returncode != 0 or "Active:" not in r.stdout:
            return 0
        active = r.stdout.split("Active:", 1)[1].split("Pending:", 1)[0]
        return sum(1 for line in active.splitlines() if line.strip().startswith("1 node_"))

    def wait_nodes(self, n: int, timeout: float = 90.0) -> None:
        """Wait until ``n`` nodes are alive (a ``RuntimeError`` with the logs' tails otherwise)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if any(p.poll() is not None for p in self._procs if p.pid not in self._killed):
                break
            if self.alive_nodes() >= n:
                return
            time.sleep(0.5)
        tails = []
        logs = os.path.join(self.tmp, "session_latest", "logs")
        for f in sorted(os.listdir(self.tmp)) + (sorted(os.listdir(logs)) if os.path.isdir(logs) else []):
            path = os.path.join(self.tmp if f.endswith(".log") else logs, f)
            if (f.endswith(".log") and os.path.dirname(path) == self.tmp) or (
                f.startswith("raylet") and f.endswith(".err")
            ):
                with open(path, errors="replace") as fh:
                    tails.append(f"--- {f}\n" + "".join(fh.readlines()[-15:]))
        raise RuntimeError(f"the local Ray cluster did not reach {n} nodes in {timeout:.0f} s\n" + "\n".join(tails))

    def node_of_pid(self, pid: int) -> int | None:
        """The worker node (0-based) whose session holds ``pid`` (None: not a node's process)."""
        try:
            sid = os.getsid(pid)
        except ProcessLookupError:
            return None
        for i, p in enumerate(self._procs[1:]):
            if p.pid == sid:
                return i
        return None

    def _kill_session(self, p: subprocess.Popen) -> None:
        # a node is a session (start_new_session): ``ray start``, the raylet and its agents share
        # its process group, Ray's workers lead groups of their own inside it
        for pid in _pids(lambda sid, cmd: sid == p.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_node(self, i: int) -> None:
        """``kill -9`` worker node ``i``: every process of its session (raylet, workers, agents)."""
        p = self._procs[1 + i]
        self._killed.add(p.pid)
        self._kill_session(p)
        p.wait(timeout=30)

    def stop(self) -> None:
        """Kill every process this cluster started (its nodes' sessions: worker nodes first,
        then the head) and remove its temporary folder. Safe to call twice."""
        for p in reversed(self._procs):
            self._kill_session(p)
        for p in self._procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while self.leftover_pids() and time.monotonic() < deadline:
            for p in self._procs:
                self._kill_session(p)
            time.sleep(0.2)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftover_pids(self) -> list[int]:
        """Live processes of this cluster's sessions, or whose command line names its temporary
        folder (empty after :meth:`stop`)."""
        sessions = {p.pid for p in self._procs}
        tmp = self.tmp.encode()
        return _pids(lambda sid, cmd: sid in sessions or tmp in cmd)


def _pids(match) -> list[int]:
    """Live (not zombie) processes, other than this one, for which ``match(session id, command line)``."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                stat = fh.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if stat[0] != b"Z" and match(int(stat[3]), cmd):
            out.append(int(d))
    return out
