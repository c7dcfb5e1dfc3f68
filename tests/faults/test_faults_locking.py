"""Issue 19, item 15: a run folder is locked while a run uses it; a second run, or an
``--overwrite`` of it, stops with a message naming the holder and deletes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _faults import SRC, good_rows, jsonl_bytes, run_ids, write_lines

from winnow import Pipeline
from winnow.core.pipeline.runlock import RunLockedError

HOLD = (
    "import sys, time; from winnow.core.pipeline.runlock import RunLock; "
    "lock = RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)"
)


def test_second_run_and_overwrite_refused_while_locked(tmp_path, real_docs):
    src = tmp_path / "in.jsonl"
    write_lines(src, jsonl_bytes(good_rows(real_docs, 20)))
    out = tmp_path / "run"
    Pipeline([]).run(str(src), str(out), workers=1)
    before = sorted(run_ids(str(out)))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"in use by another winnow run \(pid {holder.pid} on "):
            Pipeline([]).run(str(src), str(out), workers=1, overwrite=True)
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            Pipeline([]).run(str(src), str(out), workers=1, resume=True)
        assert sorted(run_ids(str(out))) == before  # nothing was deleted
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock with its holder: the folder is usable again
    res = Pipeline([]).run(str(src), str(out), workers=1, overwrite=True)
    assert sorted(run_ids(res.path)) == before
