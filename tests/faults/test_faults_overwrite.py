"""Issue 19, item 4: ``--overwrite`` only deletes a folder winnow's run marker vouches for,
and then only the paths a run writes."""

from __future__ import annotations

import json
import os

import pytest
from _faults import good_rows, jsonl_bytes, run_ids, write_lines

from winnow import Pipeline
from winnow.core.pipeline.pipeline import RunExistsError

STEPS = [{"length": {"min_words": 3}}]


def test_overwrite_refuses_a_folder_with_only_a_manifest(tmp_path, real_docs):
    src = tmp_path / "in.jsonl"
    write_lines(src, jsonl_bytes(good_rows(real_docs, 20)))
    ds = tmp_path / "dataset"  # what `winnow datasets build` writes: manifest.json + raw/
    write_lines(ds / "raw" / "precious.jsonl", jsonl_bytes(good_rows(real_docs, 5)))
    (ds / "manifest.json").write_text(json.dumps({"name": "sample"}))
    (ds / "NOTES.md").write_text("my notes")
    before = sorted(os.listdir(ds))
    with pytest.raises(RunExistsError, match="not a winnow run folder"):
        Pipeline(STEPS).run(str(src), str(ds), workers=1, overwrite=True)
    assert sorted(os.listdir(ds)) == before
    assert (ds / "NOTES.md").read_text() == "my notes" and (ds / "raw" / "precious.jsonl").exists()


def test_overwrite_deletes_only_run_paths(tmp_path, real_docs):
    src = tmp_path / "in.jsonl"
    rows = good_rows(real_docs, 20)
    write_lines(src, jsonl_bytes(rows))
    out = tmp_path / "run"
    Pipeline(STEPS).run(str(src), str(out), workers=1)
    assert (out / ".winnow-run").exists()  # the marker, written at run start
    (out / "NOTES.md").write_text("kept")
    (out / "mine").mkdir()
    (out / "mine" / "x.txt").write_text("kept too")
    res = Pipeline([{"length": {"min_words": 1000}}]).run(str(src), str(out), workers=1, overwrite=True)
    assert (out / "NOTES.md").read_text() == "kept" and (out / "mine" / "x.txt").read_text() == "kept too"
    assert run_ids(res.path) == [] and sorted(run_ids(res.path, "rejects")) == sorted(r["id"] for r in rows)
