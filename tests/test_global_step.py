"""The global-step mechanism (map → reduce → apply) through the local executor."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from conftest import write_jsonl

from winnow import Length, Pipeline
from winnow.core.pipeline.step import GlobalStep


class LongestPerSource(GlobalStep):
    """Keep the k longest documents of each source (ties broken by id): a cross-shard decision."""

    name = "longest_per_source"
    k: int = 3

    def map(self, table: pa.Table) -> pa.Table:
        return pa.table({"id": table["id"], "source": table["source"], "n": pc.utf8_length(table["text"])})

    def reduce(self, key_files, out_dir, *, workers=1):
        parts = []
        for task, f in enumerate(key_files):
            if f is None:
                continue
            t = pq.read_table(f)
            parts.append(
                t.append_column("task", pa.array([task] * t.num_rows, pa.int64())).append_column(
                    "row", pa.array(range(t.num_rows), pa.int64())
                )
            )
        allk = pa.concat_tables(parts).to_pylist()
        keep = set()
        by_src: dict[str, list] = {}
        for r in allk:
            by_src.setdefault(r["source"], []).append(r)
        for rows in by_src.values():
            rows.sort(key=lambda r: (-r["n"], r["id"]))
            keep.update(r["id"] for r in rows[: self.k])
        for task, f in enumerate(key_files):
            if f is None:
                continue
            rows = [r for r in allk if r["task"] == task]
            reasons = [None if r["id"] in keep else f"{self.name}:not_top_{self.k}" for r in rows]
            rank = [sorted((x for x in by_src[r["source"]]), key=lambda x: (-x["n"], x["id"])).index(r) for r in rows]
            pq.write_table(
                pa.table({"reason": pa.array(reasons, pa.string()), "rank": pa.array(rank, pa.int64())}),
                os.path.join(out_dir, f"{task:05d}.parquet"),
            )


def _corpus(tmp_path, real_docs, n_files=5):
    docs = [{**d, "source": f"src{i % 4}"} for i, d in enumerate(real_docs[:400])]
    for k in range(n_files):
        write_jsonl(str(tmp_path / "raw" / f"p{k}.jsonl"), docs[k::n_files])
    return docs, str(tmp_path / "raw")


def _expected(docs, min_words, k):
    by: dict[str, list] = {}
    for d in docs:
        if len(d["text"].split()) >= min_words:
            by.setdefault(d["source"], []).append(d)
    keep = []
    for rows in by.values():
        rows.sort(key=lambda d: (-len(d["text"]), d["id"]))
        keep.extend(d["id"] for d in rows[:k])
    return sorted(keep)


def test_global_step_between_map_steps(tmp_path, real_docs):
    docs, raw = _corpus(tmp_path, real_docs)
    steps = [Length(min_words=3), LongestPerSource(k=5), Length(max_words=10_000)]
    for workers in (1, 2):
        res = Pipeline(steps).run(raw, str(tmp_path / f"run{workers}"), workers=workers)
        m = res.manifest
        assert m["checks"]["ok"], m["checks"]
        kept = res.kept(["id", "rank"])
        assert sorted(kept.column("id").to_pylist()) == _expected(docs, 3, 5)
        assert max(kept.column("rank").to_pylist()) < 5  # decision columns are attached
        g = m["steps"][1]
        assert g["kind"] == "global" and g["rows_in"] == m["steps"][0]["rows_kept"]
        assert g["rows_kept"] == 20 and g["reasons"] == {"longest_per_source:not_top_5": g["rows_in"] - 20}
        assert m["steps"][2]["rows_in"] == 20
        # intermediate stage data is cleaned up after success
        assert not os.path.exists(tmp_path / f"run{workers}" / "_work" / "stage-0" / "data")


def test_global_step_resume_skips_finished_phases(tmp_path, real_docs):
    import shutil

    docs, raw = _corpus(tmp_path, real_docs)
    steps = [LongestPerSource(k=2)]
    out = str(tmp_path / "run")
    first = Pipeline(steps).run(raw, out, workers=1)
    # simulate a crash after the reduce: drop the manifest and the stage-1 markers of two tasks
    os.remove(os.path.join(out, "manifest.json"))
    for t in (0, 3):
        os.remove(os.path.join(out, "_work", "stage-1", "done", f"{t:05d}.json"))
    # the intermediate data was removed after success; a real crash would have left it: restore by rerun of stage 0
    shutil.rmtree(os.path.join(out, "_work", "stage-0"))
    os.remove(os.path.join(out, "_work", "stage-1", "done", "00001.json"))
    again = Pipeline(steps).run(raw, out, workers=1, resume=True)
    assert sorted(again.kept(["id"]).column("id").to_pylist()) == sorted(first.kept(["id"]).column("id").to_pylist())
    assert again.manifest["checks"]["ok"]


def test_steps_pickle_after_setup_with_resources_reset():
    """Steps travel to workers after setup() (which may load unpicklable models) without their resources."""
    import pickle

    from winnow.curate.filters.language import Language

    step = Language()
    step.setup()
    assert step._model is not None
    clone = pickle.loads(pickle.dumps(step))
    assert clone._model is None and clone.model_dump() == step.model_dump()
    clone.setup()
    t = clone.annotate(pa.table({"text": ["The quick brown fox jumps over the lazy dog."]}))
    assert t.column("lang").to_pylist() == ["en"]
