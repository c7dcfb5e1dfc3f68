"""The numba kernels' on-disk cache: a warmed cache is loaded (not recompiled) by a fresh
process, also after a real MinHash map + verification, and a read-only package folder with no
writable home falls back to a writable cache folder instead of failing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# after warm(): a real map and verification in the same process; print hits / compilations
_PROBE = """
import json, numpy as np, pyarrow as pa
from winnow.core.text import kernels
from winnow.curate.dedup.minhash import MinhashDedup, centre_rounds, intersect_sizes, unique_per_doc
warm = kernels.warm()
step = MinhashDedup(threshold=0.8)
text = pa.chunked_array([pa.array(["Grüße aus Köln, 42 times!", "the quick brown fox jumps over it", ""])])
step.map(pa.table({"id": ["a", "b", "c"], "text": text}))
vals, counts = unique_per_doc(*step.shingles(text))
offs = np.r_[0, np.cumsum(counts)]
intersect_sizes(vals, offs, np.array([0]), np.array([1]))
centre_rounds(np.array([0, 1, 2]), np.array([5, 5, 5]), 3, vals, offs, 0.5)
kernels.argsort_u64(np.array([9, 4, 2**64 - 1], np.uint64))
step.shingles(pa.array(["x😀y 😀"]))  # placeholders of two words and of none: the expanded copy
step.shingles(pa.array(["x 😀 y\u0301z"]))  # of none and one word only: empty slots closed in place
st = {k: [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
      for k, d in kernels.dispatchers().items()}
print(json.dumps({"warm": warm, "after": st, "dir": kernels.CACHE_DIR}))
"""


def _probe(env: dict, pythonpath: str, cwd: str) -> dict:
    env = {**env, "PYTHONPATH": pythonpath}
    p = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}


def test_second_process_loads_every_kernel_from_the_cache(tmp_path):
    env = {**_clean_env(), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = _probe(env, os.path.join(ROOT, "src"), str(tmp_path))
    assert first["dir"] == str(tmp_path / "cache")
    assert sum(m for _, m in first["warm"].values()) >= 6  # compiled: the cache was empty
    assert any(f.endswith(".nbi") for _, _, fs in os.walk(tmp_path / "cache") for f in fs)
    # warm() compiled everything a real map, bucket phase and verification use afterwards
    late = {k: v for k, v in first["after"].items() if v[1] != first["warm"].get(k, [0, 0])[1]}
    assert not late, f"compiled after warm(): {late}"
    second = _probe(env, os.path.join(ROOT, "src"), str(tmp_path))
    used = {k: v for k, v in second["after"].items() if v != [0, 0]}
    assert len(used) >= 6, second
    # nothing compiled in the fresh process, not even by a real map + verification after warm()
    assert all(miss == 0 and hits >= 1 for hits, miss in used.values()), second


def test_read_only_package_folder_and_no_home_fall_back_to_a_writable_cache(tmp_path):
    """The package copied where its ``__pycache__`` cannot be created (a file is in the way:
    root ignores permission bits) and HOME unusable: the cache goes to the temp dir, and a
    second process loads from it."""
    src = tmp_path / "pkg"
    shutil.copytree(
        os.path.join(ROOT, "src", "winnow"), src / "winnow", ignore=shutil.ignore_patterns("__pycache__", "*.nbi")
    )
    (src / "winnow" / "core" / "text" / "__pycache__").write_text("not a folder")
    (tmp_path / "home").write_text("not a folder either")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**_clean_env(), "HOME": str(tmp_path / "home" / "x"), "TMPDIR": str(tmpdir)}
    first = _probe(env, str(src), str(tmp_path))
    assert first["dir"].startswith(str(tmpdir)), first["dir"]
    assert sum(m for _, m in first["warm"].values()) >= 6
    second = _probe(env, str(src), str(tmp_path))
    assert second["dir"] == first["dir"]
    used = {k: v for k, v in second["after"].items() if v != [0, 0]}
    assert len(used) >= 6 and all(miss == 0 for _, miss in used.values()), second
