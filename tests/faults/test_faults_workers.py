"""Issue 19, item 14: ``kill -9`` of the driver does not leave spawn workers behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from _faults import SRC, good_rows, jsonl_bytes, write_lines

SLOW_STEP = """
import os, time
from winnow.core.pipeline.step import MapStep

class Sleepy(MapStep):
    name = "sleepy"
    where: str = ""
    def annotate(self, table):
        open(os.path.join(self.where, f"busy-{os.getpid()}"), "w").close()
        time.sleep(60)
        return table
"""

DRIVER = """
import sys
sys.path.insert(0, sys.argv[3])
from sleepy_step import Sleepy
from winnow import Pipeline
Pipeline([Sleepy(where=sys.argv[3])]).run(sys.argv[1], sys.argv[2], workers=2)
"""


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_exit_when_the_driver_is_killed(tmp_path, real_docs):
    for k in range(2):
        write_lines(tmp_path / "in" / f"p{k}.jsonl", jsonl_bytes(good_rows(real_docs, 5, tag=f"{k}-")))
    (tmp_path / "sleepy_step.py").write_text(SLOW_STEP)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + str(tmp_path)}
    drv = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "in"), str(tmp_path / "run"), str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until both workers are inside a task
            busy = [int(f.split("-")[1]) for f in os.listdir(tmp_path) if f.startswith("busy-")]
            if len(busy) >= 2:
                workers = busy
                break
            time.sleep(0.2)
        assert len(workers) >= 2, "workers did not start"
        assert set(workers) <= set(_children(drv.pid))
    finally:
        drv.send_signal(signal.SIGKILL)
        drv.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    left = [p for p in workers if _alive(p)]
    for p in left:  # do not leak them from the test either
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived the driver"
