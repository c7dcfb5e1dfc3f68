"""Where a run's wall time goes: `winnow run` in this process with the local executor's stages,
reduces and reduce phases, and the run-end steps (pool shutdown, schema unification, manifest)
timed. Used to find the serial part that limits worker scaling (issue 20).

    PYTHONPATH=src python benchmarks/pipeline/timeline.py run CONFIG.yaml --workers 2 --overwrite

(CONFIG: e.g. the ``benchmarks/_work/pipeline/winnow-winnow-w2.yaml`` that bench.py writes.)
Prints ``[seconds since start] event`` lines, then the CLI's own output.
"""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.2f}] {msg}", flush=True)


def timed(owner, name: str, label=None) -> None:
    """Wrap ``owner.name`` so that its start and end are logged."""
    f = getattr(owner, name)

    def wrap(*a, **k):
        log(f"{label or name} start")
        r = f(*a, **k)
        log(f"{label or name} end")
        return r

    setattr(owner, name, wrap)


def main() -> None:
    import winnow.core.executors.base as base
    import winnow.core.executors.local as local
    import winnow.core.pipeline.pipeline as pipeline

    timed(local.LocalExecutor, "run_stage", "stage")
    timed(local.LocalExecutor, "run_reduce_tasks", "  reduce phase")
    timed(local.LocalExecutor, "close", "pool shutdown")
    timed(base.Executor, "_reduce_stage", "reduce")
    for name in ("unify_folder_schema", "build_manifest"):
        timed(pipeline, name)
    from winnow.cli import app

    log("imported")
    try:
        app(sys.argv[1:])
    except SystemExit as e:
        log(f"exit {e.code}")


if __name__ == "__main__":
    main()
