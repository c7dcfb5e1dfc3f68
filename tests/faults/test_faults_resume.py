"""Issue 19, item 2: ``--resume`` refuses when the input changed (a file added, removed or
rewritten) instead of matching tasks by index and mixing rows; an interrupted run resumed on
the same input equals a clean run."""

from __future__ import annotations

import glob
import os

import pytest
from _faults import assert_accounted, good_rows, jsonl_bytes, run_ids, write_lines

from winnow import Pipeline
from winnow.core.pipeline.pipeline import IncompleteRunError

STEPS = [{"length": {"min_words": 3}}]


def _inputs(tmp_path, real_docs, names=("a", "c")):
    d = tmp_path / "in"
    rows = {}
    for n in names:
        rows[n] = good_rows(real_docs, 3, tag=n)
        write_lines(d / f"{n}.jsonl", jsonl_bytes(rows[n]))
    return d, rows


def _interrupt(run_dir: str, task: int) -> None:
    """What a kill -9 leaves: a task without its completion marker (and its outputs)."""
    os.remove(os.path.join(run_dir, "_work", "stage-0", "done", f"{task:05d}.json"))
    os.remove(os.path.join(run_dir, "manifest.json"))


def test_resume_refuses_an_added_file(tmp_path, real_docs):
    d, rows = _inputs(tmp_path, real_docs)
    out = str(tmp_path / "run")
    Pipeline(STEPS).run(str(d), out, workers=1)
    _interrupt(out, 1)
    write_lines(d / "b.jsonl", jsonl_bytes(good_rows(real_docs, 3, tag="b")))  # a shard lands after the kill
    with pytest.raises(IncompleteRunError, match=r"input files changed.*1 added \(.*b\.jsonl\)"):
        Pipeline(STEPS).run(str(d), out, workers=1, resume=True)


def test_resume_refuses_a_rewritten_or_removed_file(tmp_path, real_docs):
    d, rows = _inputs(tmp_path, real_docs)
    out = str(tmp_path / "run")
    Pipeline(STEPS).run(str(d), out, workers=1)
    _interrupt(out, 0)
    write_lines(d / "c.jsonl", jsonl_bytes(good_rows(real_docs, 5, tag="c")))
    with pytest.raises(IncompleteRunError, match=r"1 changed \(.*c\.jsonl: size"):
        Pipeline(STEPS).run(str(d), out, workers=1, resume=True)
    os.remove(d / "c.jsonl")
    with pytest.raises(IncompleteRunError, match=r"1 removed"):
        Pipeline(STEPS).run(str(d), out, workers=1, resume=True)


def test_resume_on_same_input_equals_clean_run(tmp_path, real_docs):
    d, rows = _inputs(tmp_path, real_docs, names=("a", "b", "c"))
    clean = Pipeline(STEPS).run(str(d), str(tmp_path / "clean"), workers=1)
    out = str(tmp_path / "run")
    Pipeline(STEPS).run(str(d), out, workers=1)
    _interrupt(out, 1)
    for f in glob.glob(os.path.join(out, "data", "t00001-*")):
        os.remove(f)
    res = Pipeline(STEPS).run(str(d), out, workers=1, resume=True)
    every = [r["id"] for n in rows for r in rows[n]]
    assert_accounted(res, n_input=len(every), good_ids=every, bad=[])
    assert run_ids(res.path) == run_ids(clean.path)
    assert res.manifest["totals"] == {**clean.manifest["totals"], "seconds": res.manifest["totals"]["seconds"]}
