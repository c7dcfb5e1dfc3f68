"""Issue 19, items 10, 16 and 17: a quality model with non-finite weights, a weights file
outside its folder, or a weights "file" that is a directory is refused at load, by name."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from winnow.curate.quality.model import ModelFileError, QualityModel


@pytest.fixture()
def model_dir(tmp_path, real_docs):
    pos = [d["text"] for d in real_docs[:80]]
    neg = [" ".join(d["text"].split()[:3]) for d in real_docs[80:160]]
    return QualityModel.train_classifier(pos, neg, n_bits=12).save(str(tmp_path / "m"))


def _rewrite(model_dir, weights=None, file=None):
    head = json.loads(open(os.path.join(model_dir, "model.json")).read())
    if weights is not None:
        np.save(os.path.join(model_dir, "weights.npy"), weights, allow_pickle=False)
        head["weights"]["sha256"] = hashlib.sha256(
            open(os.path.join(model_dir, "weights.npy"), "rb").read()
        ).hexdigest()
    if file is not None:
        head["weights"]["file"] = file
    open(os.path.join(model_dir, "model.json"), "w").write(json.dumps(head))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_refused(model_dir, bad):
    w = QualityModel.load(model_dir).weights.copy()
    assert np.isfinite(QualityModel.load(model_dir).score(["some text here"])).all()
    w[3] = bad
    _rewrite(model_dir, weights=w)  # checksum recorded again: only the values are wrong
    with pytest.raises(ModelFileError, match="not finite"):
        QualityModel.load(model_dir)


def test_weights_file_outside_the_model_folder_refused(model_dir, tmp_path):
    outside = tmp_path / "elsewhere.npy"
    np.save(outside, QualityModel.load(model_dir).weights, allow_pickle=False)
    for f in ("../elsewhere.npy", str(outside)):
        _rewrite(model_dir, file=f)
        with pytest.raises(ModelFileError, match="outside the model folder"):
            QualityModel.load(model_dir)


def test_weights_path_is_a_directory(model_dir):
    os.remove(os.path.join(model_dir, "weights.npy"))
    os.mkdir(os.path.join(model_dir, "weights.npy"))
    with pytest.raises(ModelFileError, match="is not a file"):
        QualityModel.load(model_dir)
