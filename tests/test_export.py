"""winnow export: exactness (decode and compare), mixing targets, determinism across seeds and
workers, kill -9 + resume, formats read back by their libraries, TokenDataset resume."""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winnow.deliver.export import ExportError, ExportExistsError, export, load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_run(path: str, rows: list[dict], files: int = 3, row_group: int = 64) -> str:
    os.makedirs(os.path.join(path, "data"), exist_ok=True)
    for k in range(files):
        part = rows[k::files]
        pq.write_table(
            pa.Table.from_pylist(part), os.path.join(path, "data", f"t{k:05d}-0000.parquet"), row_group_size=row_group
        )
    return path


def _metadata_docs(limit: int = 250) -> list[dict]:
    """Package READMEs from the installed wheels (a second, different source of real text)."""
    import importlib.metadata as md

    docs, seen = [], set()
    for dist in sorted(md.distributions(), key=lambda d: d.metadata["Name"] or ""):
        name = dist.metadata["Name"]
        body = dist.metadata.get_payload() or ""
        if name in seen or len(body) < 200:
            continue
        seen.add(name)
        docs.append({"id": f"readme/{name}", "text": body, "source": "package_readme"})
        if len(docs) >= limit:
            break
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, real_docs):
    """Three real sources: Python reference paragraphs (split in two by topic) + package READMEs."""
    rows, seen = [], set()
    for d in real_docs[:1700]:
        if d["text"] in seen:  # exact duplicates (a dedup step would have dropped them)
            continue
        seen.add(d["text"])
        src = "python_docs" if d["id"][0] < "m" else "python_docs_late"
        rows.append({"id": d["id"], "text": d["text"], "source": src})
    rows += _metadata_docs()
    rows.append({"id": "empty", "text": "", "source": "python_docs"})
    rows.append({"id": "eos-literal", "text": "a literal <|endoftext|> in text", "source": "python_docs"})
    return _write_run(str(tmp_path_factory.mktemp("run")), rows), rows


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, sample_corpus):
    """The bundled sample corpus (Django catalogues, stdlib code, licences, HTML pages...)."""
    from winnow import Length, Pipeline

    out = str(tmp_path_factory.mktemp("sample_run"))
    Pipeline([Length(min_words=5)]).run(os.path.join(sample_corpus, "raw"), out, workers=1)
    return out


def _kept(run: str) -> list[dict]:
    return pq.read_table(
        sorted(glob.glob(os.path.join(run, "data", "*.parquet"))), columns=["id", "text", "source"]
    ).to_pylist()


def _stream(out: str, split: str) -> np.ndarray:
    man = json.load(open(os.path.join(out, "manifest.json")))
    parts = [np.fromfile(os.path.join(out, s["file"]), dtype=man["dtype"]) for s in man["splits"][split]["shards"]]
    return np.concatenate(parts) if parts else np.zeros(0, man["dtype"])


def _split_docs(stream: np.ndarray, eos: int) -> list[np.ndarray]:
    cut = np.flatnonzero(stream == eos)
    assert len(cut) and cut[-1] == len(stream) - 1, "the stream ends with EOS"
    starts = np.concatenate([[0], cut[:-1] + 1])
    return [stream[a:b] for a, b in zip(starts, cut)]


def _files(out: str) -> dict[str, bytes]:
    return {
        os.path.relpath(p, out): open(p, "rb").read()
        for p in sorted(glob.glob(os.path.join(out, "*", "*")))
        if os.path.isfile(p)
    }


# ------------------------------------------------------------------ tokenizer


def test_gpt2_tiktoken_matches_hf_tokenizers(real_docs):
    from winnow.curate.filters.length import gpt2_tokenizer

    texts = (
        [d["text"] for d in real_docs[:400]]
        + [d["text"] for d in _metadata_docs(60)]
        + [
            "",
            " ",
            "  two  spaces\n\n\ttab",
            "naïve café — “quotes” 😀🤖 中文 العربية",
            "I'll've",
            "a<|endoftext|>b",
            "x" * 5000,
            "\u00a0nbsp\u2028ls",
            "123,456.789 1e-9",
        ]
    )
    ours = load_tokenizer("gpt2")
    hf = gpt2_tokenizer()
    ref = [e.ids for e in hf.encode_batch(texts)]
    got = [a.tolist() for a in ours.encode(texts)]
    assert got == ref
    assert ours.decode(got[len(real_docs[:400])]) == texts[len(real_docs[:400])]
    assert ours.identity == load_tokenizer(hf).identity  # the same vocabulary through HF


def test_tokenizer_json_path(tmp_path):
    from winnow.proxy.tokenize import BPETokenizer

    tok = BPETokenizer.train(["the cat sat on the mat and the dog sat too"] * 50, vocab_size=300)
    tok._tok.save(str(tmp_path / "tokenizer.json"))
    t = load_tokenizer(str(tmp_path))
    assert t.eos_id == tok.eos_id and t.encode(["the cat"])[0].tolist() == tok.encode(["the cat"])[0].tolist()
    with pytest.raises(ValueError, match="unknown tokenizer"):
        load_tokenizer("no-such-tokenizer")


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("which", ["corpus", "sample_run"])
def test_every_document_exactly_once(which, request, tmp_path, monkeypatch):
    from winnow.deliver.export import core

    monkeypatch.setattr(core, "_GATHER_TOKENS", 5000)  # many copy chunks per bucket and per shard
    run = request.getfixturevalue(which)
    run = run[0] if isinstance(run, tuple) else run
    out = str(tmp_path / "out")
    man = export(run, out, seq_len=128, val_fraction=0.05, task_rows=100, bucket_tokens=50_000)
    tok = load_tokenizer("gpt2")
    kept = _kept(run)
    docs = _split_docs(_stream(out, "train"), tok.eos_id) + _split_docs(_stream(out, "val"), tok.eos_id)
    want = collections.Counter(d["text"] for d in kept if d["text"])
    got = collections.Counter(tok.decode(d) for d in docs)
    assert got == want
    assert man["inputs"]["empty_documents"] == sum(1 for d in kept if not d["text"])
    assert man["tokens"]["total"] == man["inputs"]["tokens"] + sum(want.values())  # + one EOS per document
    assert 0 < man["splits"]["val"]["docs"] < man["splits"]["train"]["docs"]
    assert man["splits"]["train"]["docs"] + man["splits"]["val"]["docs"] == sum(want.values())
    # shuffled: the stream does not follow input order
    assert [tok.decode(d) for d in docs[:20]] != [d["text"] for d in kept if d["text"]][:20]
    for s in man["splits"]["train"]["shards"]:
        assert hashlib.sha256(open(os.path.join(out, s["file"]), "rb").read()).hexdigest() == s["sha256"]
    assert man["tokenizer"]["vocab_sha256"] == tok.identity and man["dtype"] == "uint16"


def test_keep_boundaries_offsets(corpus, tmp_path):
    run, rows = corpus
    out = str(tmp_path / "kb")
    export(run, out, seq_len=64, keep_boundaries=True, val_fraction=0.0, task_rows=100, shard_tokens=20_000)
    tok = load_tokenizer("gpt2")
    offs = np.load(os.path.join(out, "train", "doc_offsets.npy"))
    s = _stream(out, "train")
    assert offs[0] == 0 and offs[-1] == len(s) and not (s == tok.eos_id).any()
    got = collections.Counter(tok.decode(s[a:b]) for a, b in zip(offs[:-1], offs[1:]))
    assert got == collections.Counter(r["text"] for r in rows if r["text"])


# ------------------------------------------------------------------ mixing


def test_mix_hits_targets_within_one_document(corpus, tmp_path):
    run, rows = corpus
    mix = tmp_path / "mix.json"
    weights = {"python_docs": 0.5, "python_docs_late": 0.002, "package_readme": 0.498}
    mix.write_text(json.dumps({"weights": weights, "group_by": "source"}))
    tok = load_tokenizer("gpt2")
    nat = export(run, str(tmp_path / "nat"), seq_len=128, val_fraction=0.02, task_rows=100)
    budget = int(sum(s["train_tokens"] for s in nat["sources"].values()) * 3)
    out = str(tmp_path / "mixed")
    man = export(
        run, out, seq_len=128, mix=str(mix), tokens=budget, val_fraction=0.02, task_rows=100, bucket_tokens=100_000
    )
    src_of = {r["text"]: r["source"] for r in rows}
    count = collections.Counter()
    copies = collections.Counter()
    for d in _split_docs(_stream(out, "train"), tok.eos_id):
        text = tok.decode(d)
        count[src_of[text]] += len(d) + 1
        copies[text] += 1
    maxdoc = collections.defaultdict(int)
    ntok = {}
    for r in rows:
        if r["text"]:
            ntok[r["text"]] = len(tok.encode([r["text"]])[0]) + 1
            maxdoc[r["source"]] = max(maxdoc[r["source"]], ntok[r["text"]])
    for g, w in weights.items():
        target = man["sources"][g]["target_tokens"]
        assert target == int(w * budget)
        assert abs(count[g] - target) <= maxdoc[g], (g, count[g], target)
        assert man["sources"][g]["train_tokens"] == count[g]
    epochs = {g: s["epochs"] for g, s in man["sources"].items()}
    assert max(epochs.values()) > 2 and min(epochs.values()) < 1, epochs  # up- and down-sampled
    # whole epochs + a seeded partial one: each training document appears full or full + 1 times
    for g in weights:
        full = man["sources"][g]["full_epochs"]
        seen = {copies[t] for t, s in src_of.items() if s == g and t in copies}
        assert seen <= {full, full + 1} and full + 1 in seen
    # val is held out once, never mixed
    assert man["splits"]["val"]["docs"] == nat["splits"]["val"]["docs"]


def test_mix_errors(corpus, tmp_path):
    run, _ = corpus
    with pytest.raises(ExportError, match="absent from the data"):
        export(run, str(tmp_path / "a"), mix={"weights": {"nope": 1.0}})
    with pytest.raises(ExportError, match="weights"):
        export(run, str(tmp_path / "b"), mix={"group_by": "source"})
    with pytest.raises(ExportError, match="needs a mix"):
        export(run, str(tmp_path / "c"), tokens=1000)


# ------------------------------------------------------------------ determinism


def test_same_seed_identical_and_workers_identical(corpus, tmp_path):
    run, _ = corpus
    kw = dict(
        seq_len=128,
        val_fraction=0.05,
        task_rows=100,
        bucket_tokens=50_000,
        shard_tokens=30_000,
        mix={"weights": {"python_docs": 1, "python_docs_late": 1, "package_readme": 2}},
    )
    a = export(run, str(tmp_path / "a"), workers=1, seed=3, **kw)
    b = export(run, str(tmp_path / "b"), workers=2, seed=3, **kw)
    export(run, str(tmp_path / "c"), workers=1, seed=4, **kw)
    fa, fb, fc = _files(str(tmp_path / "a")), _files(str(tmp_path / "b")), _files(str(tmp_path / "c"))
    assert fa == fb and len(fa) >= 4
    assert fa != fc
    strip = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "tokenize_seconds")}  # noqa: E731
    assert strip(a) == strip(b)


def test_exists_and_resume_refusals(corpus, tmp_path):
    run, _ = corpus
    out = str(tmp_path / "o")
    export(run, out, seq_len=64)
    with pytest.raises(ExportExistsError, match="overwrite"):
        export(run, out, seq_len=64)
    export(run, out, seq_len=64, overwrite=True)


_KILL_SCRIPT = """
import sys
from winnow.deliver.export import export
export(sys.argv[1], sys.argv[2], seq_len=128, val_fraction=0.05, task_rows=40, bucket_tokens=40_000,
       shard_tokens=64_000, workers=1, resume=len(sys.argv) > 3,
       mix={"weights": {"python_docs": 1, "python_docs_late": 1, "package_readme": 3}})
"""


@pytest.mark.parametrize("kill_after", ["tokenize/t00004.json", "gather/train-b00002.json"])
def test_kill9_then_resume_is_byte_identical(corpus, tmp_path, kill_after):
    run, _ = corpus
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    ref = str(tmp_path / "ref")
    subprocess.run([sys.executable, "-c", _KILL_SCRIPT, run, ref], check=True, env=env)
    out = str(tmp_path / "out")
    p = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, run, out], env=env)
    marker = os.path.join(out, "_work", "done", kill_after)
    while not os.path.exists(marker) and p.poll() is None:
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the export finished before it could be killed"
    assert not os.path.exists(os.path.join(out, "manifest.json"))
    with pytest.raises(ExportExistsError, match="resume"):
        export(run, out, seq_len=128)
    subprocess.run([sys.executable, "-c", _KILL_SCRIPT, run, out, "resume"], check=True, env=env)
    assert _files(out) == _files(ref) and len(_files(ref)) > 4
    assert not os.path.exists(os.path.join(out, "_work"))


# ------------------------------------------------------------------ formats


def test_parquet_format_read_by_hf_datasets(corpus, tmp_path):
    import datasets

    run, _ = corpus
    export(run, str(tmp_path / "bin"), seq_len=100, task_rows=100)
    man = export(run, str(tmp_path / "pq"), seq_len=100, task_rows=100, format="parquet", shard_tokens=30_000)
    files = [os.path.join(tmp_path / "pq", s["file"]) for s in man["splits"]["train"]["shards"]]
    ds = datasets.Dataset.from_parquet(files, cache_dir=str(tmp_path / "hf_cache"))
    rows = ds["input_ids"]
    flat = np.concatenate([np.asarray(r) for r in rows])
    assert np.array_equal(flat, _stream(str(tmp_path / "bin"), "train"))
    assert all(len(r) == 100 for r in rows[:-1]) and 0 < len(rows[-1]) <= 100


def _read_mds_shard(path: str) -> np.ndarray:
    """The MDS joint-shard layout: n (u32), n+1 offsets (u32), the config JSON, then the samples."""
    raw = open(path, "rb").read()
    n = int(np.frombuffer(raw[:4], np.uint32)[0])
    offs = np.frombuffer(raw[4 : 4 + 4 * (n + 1)], np.uint32)
    conf = json.loads(raw[4 + 4 * (n + 1) : int(offs[0])])
    assert conf["format"] == "mds" and conf["column_names"] == ["tokens"]
    return np.frombuffer(raw[int(offs[0]) : int(offs[-1])], np.uint16).reshape(n, -1)


def test_mds_layout(corpus, tmp_path):
    run, _ = corpus
    export(run, str(tmp_path / "bin"), seq_len=64, task_rows=100)
    man = export(run, str(tmp_path / "mds"), seq_len=64, task_rows=100, format="mds", mds_size_limit=40_000)
    idx = json.load(open(tmp_path / "mds" / "train" / "index.json"))
    assert len(idx["shards"]) == len(man["splits"]["train"]["shards"]) > 2
    got = np.concatenate(
        [_read_mds_shard(str(tmp_path / "mds" / "train" / s["raw_data"]["basename"])) for s in idx["shards"]]
    )
    ref = _stream(str(tmp_path / "bin"), "train")
    n = len(ref) // 64
    assert np.array_equal(got.reshape(-1), ref[: n * 64]) and got.shape == (n, 64)


MDS_VENV = os.path.join(ROOT, "benchmarks", ".venv-export", "bin", "python")


@pytest.mark.skipif(
    not os.path.exists(MDS_VENV),
    reason="needs benchmarks/export/setup.sh (mosaicml-streaming would replace the pinned torch in the project venv)",
)
def test_mds_read_by_mosaicml_streaming(corpus, tmp_path):
    run, _ = corpus
    export(run, str(tmp_path / "bin"), seq_len=64, task_rows=100)
    export(run, str(tmp_path / "mds"), seq_len=64, task_rows=100, format="mds", mds_size_limit=40_000)
    r = subprocess.run(
        [
            MDS_VENV,
            os.path.join(ROOT, "benchmarks", "export", "check_mds.py"),
            str(tmp_path / "mds" / "train"),
            str(tmp_path / "bin"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "byte-identical" in r.stdout


# ------------------------------------------------------------------ TokenDataset


def test_token_dataset_ranks_and_exact_resume(corpus, tmp_path):
    from torch.utils.data import DataLoader
    from winnow.export import TokenDataset

    run, _ = corpus
    out = str(tmp_path / "o")
    export(run, out, seq_len=64, task_rows=100, shard_tokens=10_000)  # samples straddle shards
    stream = _stream(out, "train")
    world, bs = 2, 4
    full = {
        r: [b for b in DataLoader(TokenDataset(out, 64, rank=r, world_size=world, seed=7), batch_size=bs)]
        for r in range(world)
    }
    k = 5
    for r in range(world):
        resumed = list(
            DataLoader(
                TokenDataset(out, 64, rank=r, world_size=world, seed=7, start_index=k * bs * world),
                batch_size=bs,
                num_workers=2,
            )
        )
        assert len(resumed) == len(full[r]) - k
        assert all((a == b).all() for a, b in zip(resumed, full[r][k:]))
    ds = TokenDataset(out, 64, seed=7)
    ids = [ds.sample_id(j) for j in range(len(ds))]
    assert sorted(ids) == list(range((len(stream) - 1) // 64))  # each sample once per epoch
    i = ids[3]
    assert ds[3].tolist() == stream[i * 64 : i * 64 + 65].tolist()
    assert ids != sorted(ids) and ids != [TokenDataset(out, 64, seed=8).sample_id(j) for j in range(len(ds))]
    seen = {
        TokenDataset(out, 64, rank=r, world_size=2, seed=7).sample_id(j) for r in range(2) for j in range(len(ds) // 2)
    }
    assert len(seen) == 2 * (len(ds) // 2)


def test_cli_export(corpus, tmp_path):
    from typer.testing import CliRunner

    from winnow.cli import app

    run, _ = corpus
    out = str(tmp_path / "cli")
    r = CliRunner().invoke(app, ["export", run, out, "--seq-len", "128", "--format", "bin", "--seed", "1"])
    assert r.exit_code == 0, r.output
    man = json.load(open(os.path.join(out, "manifest.json")))
    assert "winnow export" in r.output and f"train {man['tokens']['train']:,} tokens" in r.output
    assert man["seed"] == 1 and man["seq_len"] == 128
    r = CliRunner().invoke(app, ["export", run, out])
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = CliRunner().invoke(app, ["export", run, out, "--overwrite", "--format", "zip"])
    assert r.exit_code == 2 and "format" in r.output


def test_readme_snippet(corpus, tmp_path, monkeypatch):
    """The README's export snippet runs as written (in a folder holding a runs/demo run)."""
    import re
    import shutil

    run, rows = corpus
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    sec = readme[readme.index("### Deliver: training-ready tokens") :]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    shutil.copytree(run, tmp_path / "runs" / "demo")
    for f in glob.glob(str(tmp_path / "runs" / "demo" / "data" / "*.parquet")):  # the demo's source names
        t = pq.read_table(f)
        src = ["stdlib_code" if s == "package_readme" else s for s in t.column("source").to_pylist()]
        pq.write_table(t.set_column(2, "source", pa.array(src)), f)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert tuple(ns["batch"].shape) == (8, 257)
    src = ns["man"]["sources"]
    assert src["python_docs_late"]["train_tokens"] == 0  # not in the weights: weight 0
    assert (
        abs(src["python_docs"]["train_tokens"] - 2 * src["stdlib_code"]["train_tokens"])
        < 0.02 * ns["man"]["tokens"]["train"]
    )


def test_train_check_learns_from_export(corpus, tmp_path):
    from winnow.deliver.export.train_check import train

    run, _ = corpus
    out = str(tmp_path / "o")
    export(run, out, seq_len=64, val_fraction=0.05)
    r = train(out, steps=6, batch=4, val_samples=8)
    assert r["val_split"] == "val" and r["val_loss_after"] < r["val_loss_before"] - 0.5


def test_no_id_column_and_small_text_batches(tmp_path, real_docs, monkeypatch):
    """Rows without ids get file:row ids (distinct across tasks of one file); text is tokenized in
    bounded-byte batches; the result is still every document exactly once."""
    from winnow.deliver.export import core

    monkeypatch.setattr(core, "_BATCH_BYTES", 2000)
    texts = list(dict.fromkeys(d["text"] for d in real_docs[:300]))
    os.makedirs(tmp_path / "in")
    pq.write_table(pa.table({"text": texts}), str(tmp_path / "in" / "a.parquet"), row_group_size=50)
    man = export(str(tmp_path / "in"), str(tmp_path / "o"), seq_len=32, val_fraction=0.1, task_rows=50)
    tok = load_tokenizer("gpt2")
    docs = _split_docs(_stream(str(tmp_path / "o"), "train"), tok.eos_id) + _split_docs(
        _stream(str(tmp_path / "o"), "val"), tok.eos_id
    )
    assert collections.Counter(tok.decode(d) for d in docs) == collections.Counter(texts)
    assert list(man["sources"]) == ["default"] and 0 < man["splits"]["val"]["docs"] < len(texts) // 4


def test_large_vocabulary_writes_uint32(tmp_path, real_docs):
    """A tokenizer.json with more than 65,536 ids gives uint32 shards that TokenDataset reads."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from winnow.export import TokenDataset

    texts = list(dict.fromkeys(d["text"] for d in real_docs[:200]))
    words = sorted({w for t in texts for w in t.split()})
    vocab = {"[UNK]": 0, "</s>": 70_000, **{w: i + 1 for i, w in enumerate(words)}}
    vocab.update({f"pad{i}": len(words) + 1 + i for i in range(70_000 - len(words) - 1)})
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.save(str(tmp_path / "tokenizer.json"))
    os.makedirs(tmp_path / "in")
    pq.write_table(
        pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}), str(tmp_path / "in" / "a.parquet")
    )
    man = export(
        str(tmp_path / "in"),
        str(tmp_path / "o"),
        tokenizer=str(tmp_path / "tokenizer.json"),
        seq_len=16,
        val_fraction=0.0,
    )
    assert man["dtype"] == "uint32" and man["eos_id"] == 70_000
    s = _stream(str(tmp_path / "o"), "train")
    got = collections.Counter(" ".join(words[i - 1] for i in d) for d in _split_docs(s, 70_000))
    assert got == collections.Counter(" ".join(t.split()) for t in texts)
    ds = TokenDataset(str(tmp_path / "o"), 16, shuffle=False)
    assert ds[0].tolist() == s[:17].astype(np.int64).tolist()
