"""`winnow attribute` on a bundled proxy task writes real scores to Parquet."""

import numpy as np
import pyarrow.parquet as pq
from typer.testing import CliRunner

from winnow.cli import app


def test_cli_self_influence_finds_flipped_labels(tmp_path):
    out = tmp_path / "s.parquet"
    r = CliRunner().invoke(
        app,
        [
            "attribute",
            "digits-lr",
            "--method",
            "influence",
            "--self",
            "--flip",
            "0.1",
            "--n-train",
            "300",
            "--n-test",
            "20",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    t = pq.read_table(out)
    assert t.column_names == ["id", "score", "label", "flipped"] and t.num_rows == 300
    assert len(set(t.column("id").to_pylist())) == 300
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(t.column("flipped").to_numpy(), t.column("score").to_numpy())
    assert auc > 0.9, auc
    assert "flipped-label AUC" in r.output


def test_cli_target_scores_and_errors(tmp_path):
    out = tmp_path / "t.parquet"
    r = CliRunner().invoke(
        app,
        [
            "attribute",
            "digits-lr",
            "--method",
            "trak",
            "--n-train",
            "200",
            "--n-test",
            "10",
            "--per-target",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    t = pq.read_table(out)
    assert t.num_rows == 200 and "score_9" in t.column_names
    S = np.stack([t.column(f"score_{j}").to_numpy() for j in range(10)], 1)
    np.testing.assert_allclose(t.column("score").to_numpy(), S.mean(1), rtol=1e-9)
    bad = CliRunner().invoke(app, ["attribute", "nope", "-o", str(out)])
    assert bad.exit_code == 2 and "proxy task must be one of" in bad.output
