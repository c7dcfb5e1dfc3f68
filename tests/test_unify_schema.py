"""``unify_folder_schema`` (the end of every run): rejects of different steps carry different
statistic columns; afterwards every file has the union schema, rewritten on threads or not."""

from __future__ import annotations

import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winnow.core.io.writers import unify_folder_schema


def _folder(path: str) -> dict:
    rng = random.Random(0)
    os.makedirs(path)
    cols = {"n_words": pa.int64(), "ratio": pa.float64(), "lang": pa.string()}
    want = {}
    for k in range(12):
        extra = rng.sample(sorted(cols), rng.randint(0, 3))
        n = rng.randint(1, 50)
        t = {"id": [f"{k}-{i}" for i in range(n)], "text": ["x" * rng.randint(0, 99) for _ in range(n)]}
        for c in extra:
            t[c] = pa.array(
                [rng.random() if c == "ratio" else (i if c == "n_words" else "en") for i in range(n)], cols[c]
            )
        tab = pa.table(t)
        pq.write_table(tab, os.path.join(path, f"f{k:02d}.parquet"))
        want[f"f{k:02d}.parquet"] = tab
    return want


def _in_other_processes(fn, arg_lists):
    """What a run passes as ``run``: every call in a process of a pool (here a real one)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(fn, *zip(*arg_lists)))


@pytest.mark.parametrize("threads,run", [(1, None), (4, None), (2, _in_other_processes)])
def test_every_file_gets_the_union_schema_and_keeps_its_values(tmp_path, threads, run):
    want = _folder(str(tmp_path / "d"))
    schema = unify_folder_schema(str(tmp_path / "d"), threads=threads, run=run)
    assert set(schema.names) == {"id", "text", "n_words", "ratio", "lang"}
    assert schema.names[:2] == ["id", "text"]
    for name, tab in want.items():
        got = pq.read_table(tmp_path / "d" / name)
        assert got.schema.remove_metadata().equals(schema.remove_metadata())
        for c in schema.names:
            if c in tab.column_names:
                assert got.column(c).to_pylist() == tab.column(c).to_pylist()
            else:
                assert got.column(c).null_count == got.num_rows
    assert sorted(os.listdir(tmp_path / "d")) == sorted(want)  # no temporary file left


def test_a_run_rewrites_on_its_workers_and_a_small_reduce_is_one_partition(tmp_path):
    """The run-end rewrites go through the executor's tasks (the warm pool of a 2-worker run);
    a reduce below ``pool_min_rows`` runs as one partition in the driver."""
    from winnow import Pipeline
    from winnow.core.executors.local import LocalExecutor

    os.makedirs(tmp_path / "in")
    docs = [{"id": str(i), "text": " ".join(["word"] * (i % 7)) + f" doc {i % 40}"} for i in range(400)]
    for k in range(4):
        pq.write_table(pa.Table.from_pylist(docs[k::4]), tmp_path / "in" / f"p{k}.parquet")
    ex = LocalExecutor(workers=2)
    seen = []
    run_tasks = ex.run_tasks

    def spy(tasks):
        recs = run_tasks(tasks)
        seen.extend(r["pid"] for r in recs)
        return recs

    ex.run_tasks = spy
    steps = [{"length": {"min_words": 3}}, {"exact_dedup": {}}]
    res = Pipeline(steps).run(str(tmp_path / "in" / "*.parquet"), str(tmp_path / "out"), executor=ex)
    ex.close()
    assert seen and os.getpid() not in seen  # rewritten in the pool's processes
    rej = pq.read_table(tmp_path / "out" / "rejects")  # one schema: reads as one table
    assert rej.num_rows == res.manifest["totals"]["rows_rejected"] > 0
    import json

    info = json.load(open(tmp_path / "out" / "_work" / "stage-0" / "reduce.json"))
    assert info["step"] == "exact_dedup" and info["partitions"] == 1  # 400 key rows: one, in the driver
    assert {t["pid"] for t in info["tasks"]} == {os.getpid()}
    assert res.manifest["steps"][1]["rows_rejected"] > 0
    assert LocalExecutor(workers=2).reduce_partition_count() == 2  # no key files known: one per worker
