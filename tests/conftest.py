"""Shared fixtures: real text corpora assembled offline from installed packages."""

from __future__ import annotations

import gzip
import json
import os

import pytest


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> str:
    """The bundled sample corpus (real mixed-quality text), built once per test session."""
    from winnow.core.datasets import build_dataset

    out = str(tmp_path_factory.mktemp("sample"))
    build_dataset("sample", out, shards=4, seed=0)
    return out


@pytest.fixture(scope="session")
def real_docs() -> list[dict]:
    """~1,000 real documents (Python reference topics split into paragraphs + package READMEs)."""
    import pydoc_data.topics as topics

    docs = []
    for name, text in sorted(topics.topics.items()):
        for k, para in enumerate(p for p in text.split("\n\n") if p.strip()):
            docs.append({"id": f"{name}/{k}", "text": para, "source": "python_docs"})
    return docs


def write_jsonl(path: str, rows: list[dict], compression: str | None = None) -> str:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run with WINNOW_SLOW=1 or ``-m slow``; CI runs their small versions."""
    if os.environ.get("WINNOW_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with WINNOW_SLOW=1 (a small version runs in the fast suite)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def reduce_decisions(step, tables, tmp: str, partitions: int = 1, batch_rows: int = 50) -> dict:
    """A global step's decisions, by row id, for ``tables`` as the shards of a run (``None`` or
    empty = a shard without rows): keys mapped batch by batch as the runner does, reduced over
    ``partitions``; checks one decision file per shard, its row count, and no scratch left."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(tmp, exist_ok=True)
    files = []
    for k, t in enumerate(tables):
        if t is None or t.num_rows == 0:
            files.append(None)
            continue
        f = os.path.join(tmp, f"keys{k}.parquet")
        parts = [step.map(t.slice(s, batch_rows)) for s in range(0, t.num_rows, batch_rows)]
        pq.write_table(pa.concat_tables(parts), f)
        files.append(f)
    dec_dir = os.path.join(tmp, "dec")
    step.reduce(files, dec_dir, partitions=partitions)
    assert sorted(os.listdir(dec_dir)) == [f"{k:05d}.parquet" for k in range(len(tables))]  # no scratch left
    out = {}
    for k, t in enumerate(tables):
        d = pq.read_table(os.path.join(dec_dir, f"{k:05d}.parquet"))
        assert d.num_rows == (0 if t is None else t.num_rows)
        if t is not None:
            for i, r in zip(t.column("id").to_pylist(), d.to_pylist()):
                out[i] = r
    return out
