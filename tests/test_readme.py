"""Every Python snippet of the README runs as a script saved to a file (issue 22; the last round's
README snippet crashed when saved as `s.py`). The first one (the quick-start pipeline with
workers) also runs from stdin and through `python -c`, as a notebook cell would."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.fixture(scope="module")
def workdir(sample_corpus, tmp_path_factory):
    """A user's folder: the sample corpus at data/sample and its curated run at runs/demo."""
    d = tmp_path_factory.mktemp("readme")
    os.makedirs(d / "data")
    os.symlink(sample_corpus, d / "data" / "sample")
    from winnow import Length, Pipeline

    Pipeline([Length(min_words=5)]).run(f"{sample_corpus}/raw/", str(d / "runs" / "demo"), workers=1)
    return d


def _run(code: str, cwd, how: str = "file"):
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if how == "file":
        path = os.path.join(cwd, "snippet.py")
        with open(path, "w") as fh:
            fh.write(code)
        cmd, stdin = [sys.executable, path], None
    elif how == "stdin":
        cmd, stdin = [sys.executable, "-"], code
    else:
        cmd, stdin = [sys.executable, "-c", code], None
    return subprocess.run(cmd, input=stdin, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 6


@pytest.mark.parametrize("k", range(len(SNIPPETS)))
def test_snippet_runs_as_a_script(k, workdir):
    p = _run(SNIPPETS[k], workdir)
    assert p.returncode == 0, f"README snippet {k}:\n{SNIPPETS[k]}\n--- stderr:\n{p.stderr[-3000:]}"


@pytest.mark.parametrize("how", ["stdin", "dash-c"])
def test_quick_start_snippet_from_stdin_and_dash_c(how, workdir):
    code = SNIPPETS[0].replace('"runs/py"', f'"runs/py-{how}"')
    assert "workers=" in code and "Pipeline" in code
    p = _run(code, workdir, how)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "rows_in" in p.stdout
