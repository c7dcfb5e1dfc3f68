"""Checks made before a run touches its folder, and the folder's preparation.

Order matters: arguments, input plan and steps are validated first (nothing created), then
the run folder is inspected (``--resume`` / ``--overwrite`` rules), then the lock is taken,
and only then is anything deleted or written.

Example:
    >>> check_run_args("runs/x", workers=-3)
    Traceback (most recent call last):
    ...
    winnow.errors.ConfigError: workers must be a positive integer, got -3
"""

from __future__ import annotations

import json
import os

from winnow.core.pipeline.config import ConfigError
from winnow.core.pipeline.fingerprint import describe_input_change
from winnow.core.pipeline.runlock import LOCK, RunLock, clear_run, is_run_folder, write_marker
from winnow.errors import IncompleteRunError, RunExistsError  # noqa: E402  (importable from here too)


def check_run_args(output: str, workers) -> None:
    """One-line errors for arguments that cannot work."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if os.path.exists(output) and not os.path.isdir(output):
        raise RunExistsError(f"output {output} is a file, not a folder; choose a folder path")


def preflight(steps: list, keep_state: bool = False) -> None:
    """Load every step's resources once (models, eval sets, block lists) so that a bad path
    or name fails now, with the step named, instead of in a worker after folders exist.

    With ``keep_state=False`` what was loaded is dropped again (worker processes load their
    own copy), so the driver does not hold models it does not use.
    """
    for i, st in enumerate(steps):
        try:
            st.setup()
        except Exception as e:  # noqa: BLE001 - any failure here is a configuration problem
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"steps[{i}].{st.name}: {msg}") from None
        if not keep_state:
            for k, v in getattr(st, "__private_attributes__", {}).items():
                try:
                    setattr(st, k, v.get_default())
                except Exception:  # noqa: BLE001 - a default that cannot be set back is harmless
                    pass


def _remove_temp_files(root: str) -> None:
    """Delete half-written files (``*.tmp-PID``) left by a killed run."""
    for d, _, files in os.walk(root):
        for f in files:
            if ".tmp-" in f:
                os.remove(os.path.join(d, f))


def prepare_run_folder(layout, fp: str, stamps: list, *, resume: bool, overwrite: bool) -> RunLock:
    """Apply the ``--resume`` / ``--overwrite`` rules to the run folder and return its held lock.

    * a new or empty folder: used;
    * ``--overwrite``: only a folder with the run marker, and only the paths a run writes are
      deleted (a user's files beside them stay);
    * ``--resume``: the pipeline fingerprint and the input files (names, sizes, modification
      times) must equal those recorded at the start, otherwise the run is refused;
    * otherwise: refused.
    """
    output = layout.root
    run_json = os.path.join(layout.work, "run.json")
    used = os.path.isdir(output) and any(n != LOCK for n in os.listdir(output))
    if used:
        if overwrite:
            if not is_run_folder(output):
                # never delete a folder winnow did not create
                raise RunExistsError(
                    f"{output} exists and is not a winnow run folder (no .winnow-run marker); "
                    "overwrite=True (--overwrite) only replaces winnow runs: choose another output"
                )
        elif resume:
            if not os.path.exists(run_json):
                raise RunExistsError(f"{output} exists but is not a winnow run; choose another output")
            with open(run_json, encoding="utf-8") as fh:
                prev = json.load(fh)
            if prev.get("fingerprint") != fp:
                raise IncompleteRunError(
                    f"cannot resume {output}: the pipeline or input changed since it started "
                    "(overwrite=True / --overwrite starts again)"
                )
            change = describe_input_change(prev.get("inputs") or [], stamps)
            if change is not None:
                raise IncompleteRunError(
                    f"cannot resume {output}: the input files changed since it started: {change} "
                    "(overwrite=True / --overwrite starts again)"
                )
        else:
            raise RunExistsError(
                f"output folder {output} already exists; resume=True (--resume) finishes an interrupted run, "
                "overwrite=True (--overwrite) starts again"
            )
    lock = RunLock(output).acquire()
    lock.fresh = not used  # type: ignore[attr-defined]
    try:
        if used and overwrite:
            clear_run(output)
        elif used and resume:
            if os.path.exists(layout.manifest):
                os.remove(layout.manifest)  # will be rebuilt (identical counts)
            _remove_temp_files(output)
        write_marker(output)
        os.makedirs(layout.work, exist_ok=True)
    except BaseException:
        lock.release()
        raise
    return lock


def discard_unstarted(layout, lock: RunLock) -> None:
    """Undo :func:`prepare_run_folder` for a run that could not start (its executor failed):
    a folder it created is removed again, so the corrected rerun needs no ``--overwrite``;
    a folder that existed (``--resume``/``--overwrite``) is left as it is. Releases the lock."""
    fresh = getattr(lock, "fresh", False)
    if fresh:
        clear_run(layout.root)
    lock.release()
    if fresh:
        try:
            os.remove(os.path.join(layout.root, LOCK))
            os.rmdir(layout.root)
        except OSError:  # something else was put there meanwhile: keep it
            pass
