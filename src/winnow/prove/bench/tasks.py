"""The bundled benchmark tasks, built at run time from real data installed with the project.

* :class:`NoisyLabelsTask` — a real labelled dataset from scikit-learn (``digits`` by default,
  or ``breast_cancer`` / ``wine`` / ``iris``) with a known fraction of labels flipped to another
  class in the pool. Target (given to targeted selectors) = a clean held-out slice; metric = test
  accuracy of the fixed proxy classifier; ``flipped`` is the ground truth for detection AUC.
* :class:`LMTask` — target-domain language modelling. The pool mixes documents from four real
  sources present wherever winnow is installed: Python's ``pydoc_data`` topics (prose docs),
  ``site-packages/*.dist-info/METADATA`` (package READMEs), licence files, and standard-library
  source code. The target domain (default ``pydoc``) is split *by parent document* into pool
  chunks, a target sample for the selectors, and held-out evaluation chunks; metric = perplexity
  of the fixed proxy LM (tiny transformer or KN bigram) on the evaluation chunks, with one BPE
  tokenizer trained on the whole pool (fixed across strategies).

Example:
    >>> t = NoisyLabelsTask(dataset="digits", noise=0.3, seed=0)
    >>> len(t.pool), round(float(t.flipped.mean()), 1)
    (1077, 0.3)
    >>> 0.5 < t.evaluate(np.ones(len(t.pool), bool), seed=0) <= 1
    True
"""

from __future__ import annotations

import glob
import hashlib
import os
import sysconfig
from typing import Sequence

import numpy as np

from winnow.select.base import Pool


class BenchTask:
    """A pool, a target, and a fixed recipe mapping a selection mask to a metric."""

    name = "task"
    metric = "metric"
    higher_is_better = True
    pool: Pool
    target: Pool
    flipped: np.ndarray | None = None

    def evaluate(self, mask: np.ndarray, seed: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def info(self) -> dict:
        return {}


class NoisyLabelsTask(BenchTask):
    """Noisy-label classification on a scikit-learn dataset (see module docstring).

    Args:
        dataset: ``digits``, ``breast_cancer``, ``wine`` or ``iris``.
        noise: fraction of pool labels flipped (uniformly to another class).
        test_size, target_size: fractions of the dataset held out for test / the clean target.
        proxy: :data:`winnow.proxy.VECTOR_PRESETS` name of the fixed classifier.
        seed: data seed (splits and flips); the per-run seed varies only training and selection.
        pool_size: optionally subsample the pool (for miniature CI runs).
    """

    name = "noisy_labels"
    metric = "accuracy"
    higher_is_better = True

    def __init__(
        self,
        dataset: str = "digits",
        noise: float = 0.3,
        test_size: float = 0.3,
        target_size: float = 0.1,
        proxy: str = "logistic",
        seed: int = 0,
        pool_size: int | None = None,
        proxy_options: dict | None = None,
    ):
        from sklearn import datasets as skd
        from sklearn.model_selection import train_test_split

        loaders = {
            "digits": skd.load_digits,
            "breast_cancer": skd.load_breast_cancer,
            "wine": skd.load_wine,
            "iris": skd.load_iris,
        }
        if dataset not in loaders:
            raise ValueError(f"dataset must be one of {sorted(loaders)}, got {dataset!r}")
        if not 0 <= noise < 1:
            raise ValueError(f"noise must be in [0, 1), got {noise}")
        self.dataset, self.noise, self.proxy, self.seed = dataset, noise, proxy, seed
        self.proxy_options = dict(proxy_options or {})
        X, y = loaders[dataset](return_X_y=True)
        X = X.astype(np.float32)
        self.n_classes = int(y.max() + 1)
        idx = np.arange(len(y))
        rest, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
        pool, tgt = train_test_split(rest, test_size=target_size / (1 - test_size), random_state=seed, stratify=y[rest])
        rng = np.random.default_rng(seed)
        if pool_size is not None and pool_size < len(pool):
            pool = np.sort(rng.choice(pool, pool_size, replace=False))
        y_pool = y[pool].copy()
        flipped = rng.random(len(pool)) < noise
        y_pool[flipped] = (y_pool[flipped] + rng.integers(1, self.n_classes, flipped.sum())) % self.n_classes
        self.flipped = flipped
        self.pool = Pool(
            np.asarray([f"{dataset}:{i}" for i in pool], dtype=object),
            X=X[pool],
            y=y_pool,
            n_tokens=np.ones(len(pool), np.int64),
        )
        self.target = Pool(
            np.asarray([f"{dataset}:{i}" for i in tgt], dtype=object),
            X=X[tgt],
            y=y[tgt],
            n_tokens=np.ones(len(tgt), np.int64),
        )
        self.X_test, self.y_test = X[test], y[test]

    def evaluate(self, mask: np.ndarray, seed: int) -> float:
        from winnow.proxy.classify import train_vector_classifier

        mask = np.asarray(mask, bool)
        if not mask.any():
            return float("nan")
        r = train_vector_classifier(
            self.pool.X[mask],
            self.pool.y[mask],
            self.X_test,
            self.y_test,
            preset=self.proxy,
            seed=seed,
            n_classes=self.n_classes,
            **self.proxy_options,
        )
        return r.value

    def info(self) -> dict:
        return {
            "dataset": self.dataset,
            "noise": self.noise,
            "pool": len(self.pool),
            "target": len(self.target),
            "test": len(self.y_test),
            "flipped": int(self.flipped.sum()),
            "proxy": self.proxy,
            "proxy_options": self.proxy_options,
            "data_seed": self.seed,
        }


# ---------------------------------------------------------------- LM task


def _chunks(text: str, size: int) -> list[str]:
    """Split on line boundaries into pieces of about ``size`` characters (>= size/4)."""
    out, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            out.append("".join(cur))
            cur, n = [], 0
    if cur and n >= size // 4:
        out.append("".join(cur))
    return [c for c in out if c.strip()]


def _read(path: str, limit: int = 400_000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return ""


def source_documents(source: str) -> list[tuple[str, str]]:
    """``(parent_id, text)`` for one real source: pydoc, metadata, license or code (sorted, stable)."""
    if source == "pydoc":
        import pydoc_data.topics as T

        return [(f"pydoc/{k}", v) for k, v in sorted(T.topics.items())]
    purelib = sysconfig.get_paths()["purelib"]
    if source == "metadata":
        files = sorted(glob.glob(os.path.join(purelib, "*.dist-info", "METADATA")))
    elif source == "license":
        files = sorted(
            set(glob.glob(os.path.join(purelib, "*.dist-info", "LICEN[SC]E*")))
            | set(glob.glob(os.path.join(purelib, "*.dist-info", "licenses", "*")))
            | set(glob.glob(os.path.join(purelib, "*.dist-info", "COPYING*")))
        )
        files = [f for f in files if os.path.isfile(f)]
    elif source == "code":
        files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    else:
        raise ValueError(f"unknown source {source!r}: use pydoc, metadata, license or code")
    if source != "code":
        from winnow.core.datasets import canonical_name, pinned_distributions

        pinned = pinned_distributions()  # the pool must not change when a tool is pip-installed
        if pinned is not None:
            files = [
                f
                for f in files
                if canonical_name(
                    os.path.relpath(f, purelib).split(os.sep)[0].removesuffix(".dist-info").rsplit("-", 1)[0]
                )
                in pinned
            ]
    base = os.path.dirname(purelib) if source != "code" else sysconfig.get_paths()["stdlib"]
    return [(f"{source}/{os.path.relpath(f, base)}", _read(f)) for f in files]


def run_documents(run_dir: str) -> dict[str, list[tuple[str, str]]]:
    """``{source: [(id, text), ...]}`` from a winnow run's kept rows (``RUN/data``), sorted by id.

    This is how the bench measures a curated corpus: ``task: {name: lm, pool_run: runs/demo, ...}``.
    """
    from winnow.core.io.writers import read_dataset_table

    path = os.path.join(run_dir, "data")
    if not os.path.isdir(path):
        raise ValueError(f"pool_run {run_dir!r} has no data/ folder: run `winnow run` first")
    t = read_dataset_table(path, ["id", "text", "source"])
    out: dict[str, list[tuple[str, str]]] = {}
    for i, txt, src in sorted(
        zip(t.column("id").to_pylist(), t.column("text").to_pylist(), t.column("source").to_pylist())
    ):
        out.setdefault(src, []).append((i, txt))
    return out


class LMTask(BenchTask):
    """Target-domain LM: mixed-source pool, target-domain held-out perplexity (see module docstring).

    Args:
        sources: pool sources (``pydoc``, ``metadata``, ``license``, ``code``).
        target_source: the target domain (one of ``sources``).
        doc_chars: approximate characters per document chunk.
        per_source: at most this many pool chunks per source.
        target_fit, target_eval: chunks of the target domain given to selectors / held out for the metric.
        proxy: ``tiny-lm`` (transformer, ``preset`` + ``proxy_options`` overrides) or ``ngram`` (KN bigram).
        vocab_size: BPE vocabulary (trained on the pool); ``tokenizer="bytes"`` or ``"gpt2"`` also work.
        seed: data seed (chunk sampling and the split of target parents).
        pool_run: a winnow run folder: documents come from its kept rows, ``sources`` name values of
            its ``source`` column (curate → select → prove on the same data).
    """

    name = "lm"
    metric = "perplexity"
    higher_is_better = False

    def __init__(
        self,
        sources: Sequence[str] = ("pydoc", "metadata", "license", "code"),
        target_source: str = "pydoc",
        doc_chars: int = 1000,
        per_source: int = 300,
        target_fit: int = 60,
        target_eval: int = 100,
        proxy: str = "tiny-lm",
        preset: str = "cpu-tiny",
        tokenizer: str = "bpe",
        vocab_size: int = 2048,
        seed: int = 0,
        proxy_options: dict | None = None,
        pool_run: str | None = None,
    ):
        if target_source not in sources:
            raise ValueError(f"target_source {target_source!r} must be one of sources {list(sources)}")
        if proxy not in ("tiny-lm", "ngram"):
            raise ValueError(f"proxy must be 'tiny-lm' or 'ngram', got {proxy!r}")
        self.sources, self.target_source, self.proxy, self.preset = list(sources), target_source, proxy, preset
        self.proxy_options = dict(proxy_options or {})
        self.seed = seed
        rng = np.random.default_rng(seed)
        ids, texts, srcs = [], [], []
        fit_texts, eval_texts = [], []
        seen: set[str] = set()
        self.pool_run = pool_run
        by_source = run_documents(pool_run) if pool_run else None
        if by_source is not None:
            missing = [x for x in self.sources if x not in by_source]
            if missing:
                raise ValueError(
                    f"sources {missing} have no kept rows in {pool_run}; its sources are {sorted(by_source)}"
                )
        for src in self.sources:
            docs = by_source[src] if by_source is not None else source_documents(src)
            parents = []
            for pid, text in docs:
                ch = []
                for j, c in enumerate(_chunks(text, doc_chars)):
                    h = hashlib.sha1(c.encode()).hexdigest()
                    if h not in seen:  # exact duplicates (licences!) count once
                        seen.add(h)
                        ch.append((f"{pid}#{j}", c))
                if ch:
                    parents.append(ch)
            order = rng.permutation(len(parents))
            if src == target_source:
                # whole parents go to eval, then to the target sample, the rest to the pool
                ev, ft, pl = [], [], []
                for k in order:
                    dest = ev if len(ev) < target_eval else ft if len(ft) < target_fit else pl
                    dest.extend(parents[k])
                eval_texts = [c for _, c in ev[:target_eval]]
                fit_texts = [c for _, c in ft[:target_fit]]
                chunks = pl
            else:
                chunks = [c for k in order for c in parents[k]]
            if len(chunks) > per_source:
                pick = np.sort(rng.choice(len(chunks), per_source, replace=False))
                chunks = [chunks[i] for i in pick]
            for cid, c in chunks:
                ids.append(cid)
                texts.append(c)
                srcs.append(src)
        if len(eval_texts) < 2 or len(fit_texts) < 1:
            raise ValueError(
                f"target source {target_source!r} is too small for target_fit={target_fit}, target_eval={target_eval}"
            )
        perm = rng.permutation(len(ids))
        ids, texts, srcs = [ids[i] for i in perm], [texts[i] for i in perm], [srcs[i] for i in perm]
        from winnow.select.base import word_counts

        self.pool = Pool(
            np.asarray(ids, dtype=object),
            texts=texts,
            columns={"source": np.asarray(srcs)},
            n_tokens=word_counts(texts),
        )
        self.target = Pool(
            np.asarray([f"target/{i}" for i in range(len(fit_texts))], dtype=object),
            texts=fit_texts,
            n_tokens=word_counts(fit_texts),
        )
        self.eval_texts = eval_texts
        from winnow.proxy.tokenize import get_tokenizer

        self.tokenizer = get_tokenizer(tokenizer, texts, vocab_size=vocab_size)
        self.pool_ids = self.tokenizer.encode(texts)
        self.eval_ids = self.tokenizer.encode(eval_texts)
        self.is_target_domain = np.asarray(srcs) == target_source

    def evaluate(self, mask: np.ndarray, seed: int) -> float:
        mask = np.asarray(mask, bool)
        train = [self.pool_ids[i] for i in np.flatnonzero(mask)]
        if not train:
            return float("nan")
        if self.proxy == "ngram":
            from winnow.proxy.ngram import train_ngram_lm

            return train_ngram_lm(train, self.eval_ids, self.tokenizer.vocab_size, self.tokenizer.eos_id).value
        from winnow.proxy.lm import train_lm

        return train_lm(
            None,
            None,
            tokenizer=self.tokenizer,
            preset=self.preset,
            seed=seed,
            train_ids=train,
            target_ids=self.eval_ids,
            **self.proxy_options,
        ).value

    def info(self) -> dict:
        src = self.pool.columns["source"]
        return {
            "sources": {s: int((src == s).sum()) for s in self.sources},
            "target_source": self.target_source,
            "pool": len(self.pool),
            "target_fit": len(self.target),
            "target_eval": len(self.eval_texts),
            "pool_tokens": int(sum(len(d) for d in self.pool_ids)),
            "eval_tokens": int(sum(len(d) for d in self.eval_ids)),
            "tokenizer": self.tokenizer.name,
            "proxy": self.proxy,
            "preset": self.preset if self.proxy == "tiny-lm" else None,
            "proxy_options": self.proxy_options,
            "data_seed": self.seed,
            "pool_run": self.pool_run,
            "pool_fingerprint": hashlib.sha1("\n".join(self.pool.ids).encode()).hexdigest()[:12],
        }


def build_task(spec: dict) -> BenchTask:
    """Build a task from its config mapping (``{"name": "lm", ...options}``)."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in TASKS:
        raise ValueError(f"task.name must be one of {sorted(TASKS)}, got {name!r}")
    import inspect

    cls = TASKS[name]
    if name == "lm" and ("pool" in spec or "eval" in spec):  # the user's own pool, target and eval sets
        cls = UserLMTask
        missing = [k for k in ("pool", "target", "eval") if k not in spec]
        if missing:
            raise ValueError(f"task lm on your data needs pool, target and eval; missing {missing}")
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    bad = [k for k in spec if k not in valid]
    if bad:
        raise ValueError(f"task {name!r}: unknown option(s) {bad}; valid: {valid}")
    return cls(**spec)


# ---------------------------------------------------------------- LM task on the user's own data


def read_documents(spec, text_column: str = "text", name: str = "pool") -> tuple[list[str], list[str], list | None]:
    """``(ids, texts, sources or None)`` of every readable record of ``spec``: a winnow run folder
    (its kept rows, ``RUN/data``), files, folders or globs (JSONL, Parquet, text), or a list of them."""
    from winnow.select.io import read_table

    paths = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec or [])
    if not paths:
        raise ValueError(f"{name}: give a path, a glob or a winnow run folder")
    resolved = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p) and os.path.exists(os.path.join(p, "manifest.json")):
            p = os.path.join(p, "data")
        resolved.append(p)
    try:
        t = read_table(resolved if len(resolved) > 1 else resolved[0], text_column=text_column)
    except (ValueError, OSError) as e:
        raise ValueError(f"{name}: {e}") from e
    texts = [x or "" for x in t.column("text").to_pylist()] if "text" in t.column_names else None
    if texts is None:
        raise ValueError(f"{name}: no {text_column!r} field in {paths}")
    ids = [str(i) for i in t.column("id").to_pylist()]
    src = t.column("source").to_pylist() if "source" in t.column_names else None
    keep = [i for i, x in enumerate(texts) if x.strip()]
    if len(keep) < len(texts):
        ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
        src = None if src is None else [src[i] for i in keep]
    if not texts:
        raise ValueError(f"{name}: no non-empty documents in {paths}")
    return ids, texts, src


def _norm_text(t: str) -> str:
    return " ".join(t.lower().split())


def leak_check(pool: Sequence[str], target: Sequence[str], evals: dict[str, Sequence[str]], n: int = 13) -> dict:
    """Overlap between pool, target and eval sets: exact matches (normalised text) and shared word
    ``n``-grams (the decontamination index of :mod:`winnow.curate.decontam`).

    Returns ``{"n": n, "pairs": [{"a", "b", "exact", "ngram", "of"}], "pool_overlap": bool mask}``
    where ``exact``/``ngram`` count the documents of ``a`` that match ``b`` and ``of`` = ``len(a)``;
    ``pool_overlap`` marks the pool documents that overlap any eval set.

    Example:
        >>> r = leak_check(["the same text here", "other"], ["x"], {"e": ["the same text here"]}, n=2)
        >>> [(p["a"], p["b"], p["exact"], p["ngram"]) for p in r["pairs"]]
        [('pool', 'target', 0, 0), ('pool', 'eval:e', 1, 1), ('target', 'eval:e', 0, 0)]
    """
    import pyarrow as pa

    from winnow.curate.decontam.index import EvalSet, NgramIndex

    def check(a_texts, b_name, b_texts):
        b_hash = {hashlib.sha1(_norm_text(t).encode()).digest() for t in b_texts}
        exact = np.asarray([hashlib.sha1(_norm_text(t).encode()).digest() in b_hash for t in a_texts], bool)
        idx = NgramIndex.build([EvalSet(b_name, [str(i) for i in range(len(b_texts))], list(b_texts))], n=n)
        hits = idx.match(pa.array(list(a_texts), pa.string()))
        ng = np.zeros(len(a_texts), bool)
        ng[np.asarray(hits.doc, np.int64)] = True
        return exact, ng

    pairs = []
    pool_overlap = np.zeros(len(pool), bool)
    sets = [("target", target)] + [(f"eval:{k}", v) for k, v in evals.items()]
    for b_name, b_texts in sets:
        ex, ng = check(pool, b_name, b_texts)
        if b_name != "target":
            pool_overlap |= ex | ng
        pairs.append({"a": "pool", "b": b_name, "exact": int(ex.sum()), "ngram": int((ng | ex).sum()), "of": len(pool)})
    for b_name, b_texts in sets[1:]:
        ex, ng = check(target, b_name, b_texts)
        pairs.append(
            {"a": "target", "b": b_name, "exact": int(ex.sum()), "ngram": int((ng | ex).sum()), "of": len(target)}
        )
    names = list(evals)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ex, ng = check(evals[a], f"eval:{b}", evals[b])
            pairs.append(
                {
                    "a": f"eval:{a}",
                    "b": f"eval:{b}",
                    "exact": int(ex.sum()),
                    "ngram": int((ng | ex).sum()),
                    "of": len(evals[a]),
                }
            )
    return {"n": n, "pairs": pairs, "pool_overlap": pool_overlap}


def parse_proxies(spec) -> list[dict]:
    """``proxy:`` as a preset name, ``{preset, tokens, label?, ...overrides}`` or a list of them
    (the first is the primary proxy; the others check that the ranking transfers)."""
    from winnow.proxy.lm import resolve_recipe

    items = spec if isinstance(spec, list) else [spec if spec is not None else {}]
    out = []
    for i, p in enumerate(items):
        if isinstance(p, str):
            p = {"preset": p}
        if not isinstance(p, dict):
            raise ValueError(f"proxy[{i}] must be a preset name or {{preset, tokens, ...}}, got {p!r}")
        p = dict(p)
        preset = p.pop("preset", "cpu-tiny")
        label = str(p.pop("label", preset))
        if "tokens" in p:
            p["tokens"] = int(float(p["tokens"]))
        resolve_recipe(preset, **p)  # validates
        out.append({"label": label, "preset": preset, "options": p})
    labels = [p["label"] for p in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"proxy labels must be unique, got {labels}; give each a label:")
    return out


class UserLMTask(BenchTask):
    """LM task on the user's own files: pool, target and named eval sets (see ``winnow bench``).

    Every selection trains the same fixed-compute proxy (``proxy: {preset, tokens}``: every subset
    is trained for the same number of tokens, small subsets are repeated) and is measured on
    every eval set (perplexity; lower is better). ``primary_eval`` (default: the first) is the
    row's ``metric``. A list of proxies (e.g. ``cpu-tiny`` and ``cpu-tiny-x4``) trains each
    selection with each of them, so the ranking can be checked at a larger proxy.

    Args:
        pool: a winnow run folder, files, folders or globs (JSONL, Parquet, text) — or a list.
        target: examples of the target domain, given to targeted selectors.
        eval: ``{name: path}`` of held-out eval sets (or one path, named ``eval``).
        proxy: see :func:`parse_proxies`.
        primary_eval: the eval set whose metric is each row's ``metric``.
        tokenizer, vocab_size: BPE trained on the pool (``bytes`` and ``gpt2`` also work).
        doc_chars: split documents into chunks of about this many characters (line boundaries).
        max_docs: keep at most this many pool documents (a seeded sample).
        drop_leaks: drop pool documents that share a 13-gram (or the whole text) with an eval set.
        text_column: the field holding the text.
        seed: data seed (``max_docs`` sample).

    Example:
        >>> import json, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> def w(name, rows):
        ...     with open(os.path.join(d, name), "w") as fh:
        ...         fh.writelines(json.dumps({"text": t}) + "\\n" for t in rows)
        >>> w("pool.jsonl", [f"cats purr and nap {i} " * 20 for i in range(20)]
        ...   + [f"dogs bark {i} " * 30 for i in range(20)])
        >>> w("target.jsonl", ["cats purr " * 30]); w("eval.jsonl", ["cats nap and purr " * 40])
        >>> t = UserLMTask(os.path.join(d, "pool.jsonl"), os.path.join(d, "target.jsonl"),
        ...                {"cats": os.path.join(d, "eval.jsonl")}, proxy={"preset": "cpu-tiny", "tokens": 4096},
        ...                vocab_size=300)
        >>> m = t.evaluate(np.ones(len(t.pool), bool), seed=0)
        >>> sorted(m), m["cats"] > 1
        (['cats'], True)
    """

    name = "lm"
    metric = "perplexity"
    higher_is_better = False

    def __init__(
        self,
        pool,
        target,
        eval,
        proxy=None,
        primary_eval: str | None = None,
        tokenizer: str = "bpe",
        vocab_size: int = 1024,
        doc_chars: int | None = None,
        max_docs: int | None = None,
        drop_leaks: bool = False,
        text_column: str = "text",
        seed: int = 0,
    ):
        from winnow.proxy.lm import describe_recipe
        from winnow.proxy.tokenize import get_tokenizer
        from winnow.select.base import word_counts

        if isinstance(eval, (str, os.PathLike, list)):
            eval = {"eval": eval}
        if not isinstance(eval, dict) or not eval:
            raise ValueError("eval must be {name: path, ...} (one or more held-out sets)")
        self.eval_names = [str(k) for k in eval]
        self.primary_eval = str(primary_eval) if primary_eval is not None else self.eval_names[0]
        if self.primary_eval not in self.eval_names:
            raise ValueError(f"primary_eval {primary_eval!r} is not one of the eval sets {self.eval_names}")
        self.proxies = parse_proxies(proxy)
        self.seed = seed
        self.paths = {"pool": pool, "target": target, "eval": dict(eval)}
        ids, texts, srcs = read_documents(pool, text_column, "pool")
        if doc_chars:
            ids, texts, srcs = self._chunk(ids, texts, srcs, int(doc_chars))
        if max_docs is not None and len(texts) > max_docs:
            pick = np.sort(np.random.default_rng(seed).choice(len(texts), int(max_docs), replace=False))
            ids, texts = [ids[i] for i in pick], [texts[i] for i in pick]
            srcs = None if srcs is None else [srcs[i] for i in pick]
        _, tgt_texts, _ = read_documents(target, text_column, "target")
        eval_texts = {k: read_documents(v, text_column, f"eval {k!r}")[1] for k, v in eval.items()}
        self.leaks = leak_check(texts, tgt_texts, eval_texts)
        overlap = self.leaks.pop("pool_overlap")
        self.dropped_leaks = 0
        if drop_leaks and overlap.any():
            keep = np.flatnonzero(~overlap)
            self.dropped_leaks = int(overlap.sum())
            ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
            srcs = None if srcs is None else [srcs[i] for i in keep]
        self.tokenizer = get_tokenizer(tokenizer, texts, vocab_size=vocab_size)
        self.pool_ids = self.tokenizer.encode(texts)
        self.eval_ids = {k: self.tokenizer.encode(v) for k, v in eval_texts.items()}
        ntok = np.asarray([len(d) for d in self.pool_ids], np.int64)
        cols = {"source": np.asarray(srcs, dtype=object)} if srcs is not None else {}
        self.pool = Pool(np.asarray(ids, dtype=object), texts=texts, columns=cols, n_tokens=ntok)
        self.target = Pool(
            np.asarray([f"target/{i}" for i in range(len(tgt_texts))], dtype=object),
            texts=tgt_texts,
            n_tokens=word_counts(tgt_texts),
        )
        self.recipes = [
            describe_recipe(p["preset"], vocab_size=self.tokenizer.vocab_size, **p["options"]) for p in self.proxies
        ]
        for p, r in zip(self.proxies, self.recipes):
            r["label"] = p["label"]
        self.n_eval_docs = {k: len(v) for k, v in eval_texts.items()}

    @staticmethod
    def _chunk(ids, texts, srcs, size):
        out_i, out_t, out_s = [], [], []
        for k, (i, t) in enumerate(zip(ids, texts)):
            for j, c in enumerate(_chunks(t, size) or [t]):
                out_i.append(f"{i}#{j}")
                out_t.append(c)
                out_s.append(None if srcs is None else srcs[k])
        return out_i, out_t, (None if srcs is None else out_s)

    def evaluate(self, mask: np.ndarray, seed: int, proxy: int = 0) -> dict:
        """Perplexity on every eval set of the proxy ``proxy`` trained on the rows of ``mask``."""
        from winnow.proxy.lm import train_lm

        mask = np.asarray(mask, bool)
        train = [self.pool_ids[i] for i in np.flatnonzero(mask)]
        if not train:
            return {k: float("nan") for k in self.eval_names}
        p = self.proxies[proxy]
        r = train_lm(
            None,
            None,
            tokenizer=self.tokenizer,
            preset=p["preset"],
            seed=seed,
            train_ids=train,
            eval_sets=self.eval_ids,
            **p["options"],
        )
        return {k: float(np.exp(v)) for k, v in r.extra["eval_losses"].items()}

    def info(self) -> dict:
        out = {
            "pool": self._path_str(self.paths["pool"]),
            "target": self._path_str(self.paths["target"]),
            "pool_docs": len(self.pool),
            "pool_tokens": int(self.pool.n_tokens.sum()),
            "target_docs": len(self.target),
            "tokenizer": self.tokenizer.name,
            "eval": {
                k: {
                    "path": self._path_str(v),
                    "docs": self.n_eval_docs[k],
                    "tokens": int(sum(len(d) for d in self.eval_ids[k])),
                }
                for k, v in self.paths["eval"].items()
            },
            "primary_eval": self.primary_eval,
            "proxies": self.recipes,
            "leaks": self.leaks,
            "dropped_leaks": self.dropped_leaks,
            "data_seed": self.seed,
            "pool_fingerprint": hashlib.sha1("\n".join(self.pool.ids).encode()).hexdigest()[:12],
        }
        if "source" in self.pool.columns:
            src = self.pool.columns["source"].astype(str)
            u, c = np.unique(src, return_counts=True)
            out["sources"] = {str(a): int(b) for a, b in zip(u, c)}
        return out

    @staticmethod
    def _path_str(p) -> str:
        return p if isinstance(p, str) else ", ".join(map(str, p))


TASKS = {"noisy_labels": NoisyLabelsTask, "lm": LMTask}
