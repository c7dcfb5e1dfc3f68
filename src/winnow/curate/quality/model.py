"""fastText-style quality models: hashed word (+ optional char) n-grams and a linear model.

Features (vectorised, :class:`winnow.core.text.features.HashingFeaturizer`): lowercased whitespace
tokens, word n-grams up to ``word_ngrams`` and optionally byte n-grams inside tokens
(``char_ngrams=(minn, maxn)``), hashed into ``2**n_bits`` buckets. A document's vector is its feature counts divided by
``sqrt(number of features)`` (``norm="sqrt"``) or by the number of features (``norm="mean"``,
fastText's averaging). The linear model is scikit-learn's ``LogisticRegression`` (a classifier:
the score is P(positive)) or ``Ridge`` (a regressor: the score is the predicted value, e.g. an
attribution score). Scoring needs only numpy: ``bias + bincount(doc, w[feature]) * norm``.

A model is saved as a folder of plain files, never pickle:

* ``model.json`` — format name and version, featuriser settings, kind, bias, calibration
  quantiles, training metadata and the SHA-256 of the weights file;
* ``weights.npy`` — float32 weights, loaded with ``allow_pickle=False``.

Example:
    >>> pos = ["The function returns a new list sorted in ascending order."] * 20
    >>> neg = ["BUY NOW!!! click here $$$ free free free"] * 20
    >>> m = QualityModel.train_classifier(pos, neg, n_bits=16, seed=0)
    >>> s = m.score(["This method returns the sorted list.", "click here free $$$"])
    >>> bool(s[0] > 0.5 > s[1])
    True
    >>> m.save("/tmp/winnow-doctest-model", overwrite=True)
    '/tmp/winnow-doctest-model'
    >>> bool((QualityModel.load("/tmp/winnow-doctest-model").score(["click here"]) < 0.5)[0])
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa

from winnow.core.text.features import HASHING, HashingFeaturizer
from winnow.core.text.features import as_arrow as _as_arrow
from winnow.errors import ModelFileError  # defined there; importable from here too

FORMAT = "winnow-quality-model"
FORMAT_VERSION = 1


@dataclass(repr=False)
class QualityModel:
    """A hashed n-gram linear model that scores texts (higher = better / more like the positives).

    Build one with :meth:`train_classifier` (positives vs negatives; the DCLM recipe) or
    :meth:`train_regressor` (predict a per-example score, e.g. attribution: an
    "influence-distilled" scorer); apply with :meth:`score`; persist with :meth:`save` /
    :meth:`load`.
    """

    featurizer: HashingFeaturizer
    weights: np.ndarray
    bias: float
    kind: Literal["classifier", "regressor"] = "classifier"
    #: score quantiles on a reference pool (used by ``top_fraction``): probs -> values
    calibration: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        """A one-line summary (the weights and calibration quantiles are not printed).

        >>> m = QualityModel(HashingFeaturizer(n_bits=10), np.zeros(1024), 0.0)
        >>> r = repr(m)
        >>> r.startswith("QualityModel(kind='classifier', features=HashingFeaturizer(n_bits=10, word_ngrams=2")
        True
        >>> r.endswith("nonzero_weights=0/1024, calibrated=False)")
        True
        """
        n_cal = len(self.calibration.get("quantiles") or []) if self.calibration else 0
        meta = "".join(f", {k}={self.meta[k]!r}" for k in ("n_train", "source", "teacher") if k in self.meta)
        return (
            f"QualityModel(kind={self.kind!r}, features={self.featurizer!r}, "
            f"nonzero_weights={int(np.count_nonzero(self.weights))}/{len(self.weights)}, "
            f"calibrated={f'{n_cal} quantiles' if n_cal else False}{meta})"
        )

    # ---------------------------------------------------------------- scoring
    def decision(self, texts) -> np.ndarray:
        """Raw linear output (logit for a classifier) per text, float64."""
        fz = self.featurizer
        texts = _as_arrow(texts)
        s = np.zeros(len(texts))
        for d, f in fz.parts(texts):
            if d is None:
                return self.bias + s * fz._scale(f)
            if len(d):
                s[: d[-1] + 1] += np.bincount(d, weights=self.weights[f])
        raise AssertionError("unreachable")

    def score(self, texts) -> np.ndarray:
        """Score per text: P(positive) for a classifier, the predicted value for a regressor.

        ``texts``: an Arrow string array (nulls score as empty text) or a sequence of str.
        """
        z = self.decision(texts)
        if self.kind == "classifier":
            return 1.0 / (1.0 + np.exp(-z))
        return z

    def threshold_for_top_fraction(self, fraction: float) -> float:
        """Score above which ``fraction`` of the calibration pool lies (DCLM keeps e.g. the top 10%)."""
        if not 0 < fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {fraction}")
        cal = self.calibration
        if not cal or not cal.get("quantiles"):
            raise ValueError(
                "this model has no calibration quantiles; pass a threshold instead, or "
                "calibrate it on a pool sample (QualityModel.calibrate)"
            )
        q = np.asarray(cal["probs"], dtype=np.float64)
        v = np.asarray(cal["quantiles"], dtype=np.float64)
        return float(np.interp(1.0 - fraction, q, v))

    def calibrate(self, pool_texts, *, name: str = "pool") -> "QualityModel":
        """Store score quantiles over a sample of the pool (for ``top_fraction``)."""
        s = self.score(pool_texts)
        probs = np.linspace(0, 1, 1001)
        self.calibration = {
            "on": name,
            "n": int(len(s)),
            "probs": probs.round(6).tolist(),
            "quantiles": np.quantile(s, probs).tolist() if len(s) else [],
        }
        return self

    # --------------------------------------------------------------- training
    @classmethod
    def train_classifier(
        cls,
        positives,
        negatives,
        *,
        n_bits: int = 20,
        word_ngrams: int = 2,
        char_ngrams: tuple[int, int] | None = None,
        norm: str = "sqrt",
        C: float = 10.0,
        max_iter: int = 1000,
        seed: int = 0,
        calibrate_on_negatives: bool = True,
        lowercase: bool = True,
    ) -> "QualityModel":
        """Train P(positive | text) by L2-regularised logistic regression on hashed n-grams.

        The DCLM recipe: ``positives`` = a high-quality reference set, ``negatives`` = random pool
        documents; the negatives also calibrate ``top_fraction`` (they are a pool sample).
        ``C`` is the inverse regularisation strength.
        """
        from sklearn.linear_model import LogisticRegression

        pos, neg = _as_arrow(positives), _as_arrow(negatives)
        if len(pos) == 0 or len(neg) == 0:
            raise ValueError(f"need positives and negatives, got {len(pos)} positives and {len(neg)} negatives")
        fz = HashingFeaturizer(
            n_bits=n_bits, word_ngrams=word_ngrams, char_ngrams=char_ngrams, norm=norm, lowercase=lowercase
        )
        t0 = time.perf_counter()
        X = fz.transform(pa.chunked_array([pos, neg]))
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        clf = LogisticRegression(C=C, max_iter=max_iter, solver="liblinear", random_state=seed)
        clf.fit(X, y)
        m = cls(
            fz,
            clf.coef_.ravel().astype(np.float32),
            float(clf.intercept_[0]),
            "classifier",
            meta={
                "n_positives": int(len(pos)),
                "n_negatives": int(len(neg)),
                "C": C,
                "train_seconds": round(time.perf_counter() - t0, 3),
                "seed": seed,
            },
        )
        if calibrate_on_negatives:
            m.calibrate(neg, name="negatives")
        return m

    @classmethod
    def train_regressor(
        cls,
        texts,
        targets,
        *,
        n_bits: int = 20,
        word_ngrams: int = 2,
        char_ngrams: tuple[int, int] | None = None,
        norm: str = "sqrt",
        alpha: float = 1.0,
        binarize: float | None = None,
        C: float = 10.0,
        seed: int = 0,
        lowercase: bool = True,
    ) -> "QualityModel":
        """Train the same fast model to predict a per-example score (an "influence-distilled" scorer).

        ``targets``: one float per text (e.g. attribution scores). With ``binarize=f`` the top
        ``f`` fraction of targets become positives and a classifier is trained instead
        (DCLM-style); otherwise ``Ridge(alpha)`` regresses the standardised targets and the
        score is mapped back to the target's scale. The training texts calibrate ``top_fraction``.
        """
        tx = _as_arrow(texts)
        y = np.asarray(targets, dtype=np.float64)
        if len(tx) != len(y):
            raise ValueError(f"texts and targets differ in length: {len(tx)} vs {len(y)}")
        if len(y) < 2 or not np.isfinite(y).all():
            raise ValueError("targets must be at least 2 finite numbers")
        if binarize is not None:
            if not 0 < binarize < 1:
                raise ValueError(f"binarize must be a fraction in (0, 1), got {binarize}")
            cut = np.quantile(y, 1 - binarize)
            mask = y >= cut
            pos = tx.filter(pa.array(mask))
            neg = tx.filter(pa.array(~mask))
            m = cls.train_classifier(
                pos,
                neg,
                n_bits=n_bits,
                word_ngrams=word_ngrams,
                char_ngrams=char_ngrams,
                norm=norm,
                C=C,
                seed=seed,
                calibrate_on_negatives=False,
                lowercase=lowercase,
            )
            m.meta.update({"distilled": True, "binarize": binarize, "target_cut": float(cut)})
            return m.calibrate(tx, name="training texts")
        from sklearn.linear_model import Ridge

        fz = HashingFeaturizer(
            n_bits=n_bits, word_ngrams=word_ngrams, char_ngrams=char_ngrams, norm=norm, lowercase=lowercase
        )
        t0 = time.perf_counter()
        X = fz.transform(tx)
        mu, sd = float(y.mean()), float(y.std()) or 1.0
        reg = Ridge(alpha=alpha, solver="sparse_cg", random_state=seed)
        reg.fit(X, (y - mu) / sd)
        w = (reg.coef_.ravel() * sd).astype(np.float32)
        b = float(reg.intercept_) * sd + mu
        m = cls(
            fz,
            w,
            b,
            "regressor",
            meta={
                "n_train": int(len(y)),
                "alpha": alpha,
                "distilled": True,
                "target_mean": mu,
                "target_std": sd,
                "train_seconds": round(time.perf_counter() - t0, 3),
            },
        )
        return m.calibrate(tx, name="training texts")

    # ------------------------------------------------------------ persistence
    def save(self, path: str, *, overwrite: bool = False) -> str:
        """Write ``model.json`` + ``weights.npy`` into the folder ``path`` (atomically)."""
        if os.path.exists(path) and os.listdir(path) and not overwrite:
            raise FileExistsError(f"model folder {path} exists and is not empty (pass overwrite=True)")
        tmp = path.rstrip("/") + ".tmp-" + str(os.getpid())
        os.makedirs(tmp, exist_ok=True)
        wpath = os.path.join(tmp, "weights.npy")
        np.save(wpath, np.ascontiguousarray(self.weights, dtype=np.float32), allow_pickle=False)
        head = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "hashing": HASHING,
            "kind": self.kind,
            "featurizer": self.featurizer.to_json(),
            "bias": self.bias,
            "weights": {
                "file": "weights.npy",
                "dtype": "float32",
                "shape": [int(self.weights.size)],
                "sha256": _sha256(wpath),
            },
            "calibration": self.calibration,
            "meta": self.meta,
        }
        with open(os.path.join(tmp, "model.json"), "w") as fh:
            json.dump(head, fh, indent=1)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str) -> "QualityModel":
        """Load a model folder written by :meth:`save`; verifies format, version and checksum.

        Raises :class:`ModelFileError` naming the problem (missing file, bad JSON, unknown
        version, checksum mismatch, wrong shape). Nothing is unpickled.
        """
        head_path = os.path.join(path, "model.json")
        if not os.path.isdir(path):
            raise ModelFileError(f"model {path!r}: not a folder (expected model.json + weights.npy)")
        if not os.path.exists(head_path):
            raise ModelFileError(f"model {path!r}: model.json is missing")
        try:
            with open(head_path, "rb") as fh:
                head = json.loads(fh.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelFileError(f"model {path!r}: model.json is corrupted (not valid JSON: {e})") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise ModelFileError(f"model {path!r}: model.json is not a {FORMAT} file")
        if head.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"model {path!r}: format_version {head.get('format_version')!r} is not "
                f"supported (this winnow reads version {FORMAT_VERSION})"
            )
        if head.get("hashing") != HASHING:
            raise ModelFileError(
                f"model {path!r}: trained with hashing {head.get('hashing')!r}, this winnow "
                f"hashes with {HASHING!r}; retrain the model"
            )
        try:
            winfo = head["weights"]
            wpath = os.path.join(path, winfo["file"])
            fz = HashingFeaturizer.from_json(head["featurizer"])
            kind, bias = head["kind"], float(head["bias"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"model {path!r}: model.json is missing or has a bad field: {e}") from None
        if kind not in ("classifier", "regressor"):
            raise ModelFileError(f"model {path!r}: unknown kind {kind!r}")
        if not isinstance(winfo.get("file"), str) or not _inside(path, wpath):
            raise ModelFileError(f"model {path!r}: weights file {winfo.get('file')!r} is outside the model folder")
        if not os.path.exists(wpath):
            raise ModelFileError(f"model {path!r}: weights file {winfo['file']} is missing")
        if not os.path.isfile(wpath):
            raise ModelFileError(f"model {path!r}: weights file {winfo['file']} is not a file")
        digest = _sha256(wpath)
        if digest != winfo.get("sha256"):
            raise ModelFileError(
                f"model {path!r}: {winfo['file']} is corrupted (sha256 {digest[:12]}… does not "
                f"match {str(winfo.get('sha256'))[:12]}… recorded in model.json)"
            )
        try:
            w = np.load(wpath, allow_pickle=False)
        except ValueError as e:
            raise ModelFileError(f"model {path!r}: cannot read {winfo['file']}: {e}") from None
        if w.dtype != np.float32 or w.shape != (fz.n_features,):
            raise ModelFileError(
                f"model {path!r}: weights have dtype {w.dtype} shape {w.shape}, expected float32 ({fz.n_features},)"
            )
        if not (np.isfinite(w).all() and np.isfinite(bias)):
            raise ModelFileError(
                f"model {path!r}: weights or bias are not finite numbers (NaN or inf): "
                "the model would score every text NaN; retrain it"
            )
        return cls(fz, w, bias, kind, head.get("calibration") or {}, head.get("meta") or {})


def _inside(folder: str, path: str) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``folder``."""
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root and os.path.realpath(path) != root


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for blk in iter(lambda: fh.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (ties count half); labels are 1 = positive, 0 = negative."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("roc_auc needs both positive and negative labels")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
