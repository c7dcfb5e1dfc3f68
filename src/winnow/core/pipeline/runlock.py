"""Run-folder ownership: the marker that says "winnow wrote this" and the lock of a live run.

* ``.winnow-run`` (the *run marker*) is written when a run starts, before anything else.
  ``--overwrite`` deletes a folder's contents only when the marker is there, and then only
  the paths a run writes (:data:`RUN_PATHS`): a user's own files beside them are kept.
* ``.winnow-lock`` is held (``flock``) for the whole run; a second run on the same folder,
  or an ``--overwrite`` of a running folder, stops with a message naming the holder.

Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with RunLock(d):
    ...     try:
    ...         RunLock(d).acquire()
    ...     except RunLockedError as e:
    ...         print(str(e).split(" (")[0])  # doctest: +ELLIPSIS
    run folder ... is in use by another winnow run
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time

MARKER = ".winnow-run"
LOCK = ".winnow-lock"
#: everything a run writes inside its folder (what ``--overwrite`` may delete)
RUN_PATHS = ("data", "rejects", "quarantine", "_work", "manifest.json", "report.html", MARKER)
#: older runs (before the marker) are recognised by this file
LEGACY_MARKER = os.path.join("_work", "run.json")


from winnow.errors import RunLockedError  # noqa: E402  (defined there; importable from here too)


def is_run_folder(root: str) -> bool:
    """Whether ``root`` was created by a winnow run (it has the run marker)."""
    return os.path.isfile(os.path.join(root, MARKER)) or os.path.isfile(os.path.join(root, LEGACY_MARKER))


def write_marker(root: str) -> None:
    from winnow import __version__

    path = os.path.join(root, MARKER)
    if os.path.exists(path):
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(
            {"written_by": "winnow", "version": __version__, "started": time.time(), "paths": list(RUN_PATHS)}, fh
        )
    os.replace(tmp, path)


def clear_run(root: str) -> list[str]:
    """Delete what a run wrote in ``root`` (only :data:`RUN_PATHS`); return what was deleted."""
    gone = []
    for name in RUN_PATHS:
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)
        else:
            continue
        gone.append(name)
    return gone


class RunLock:
    """An exclusive ``flock`` on ``ROOT/.winnow-lock`` that records its holder (pid, host, time,
    command). Released on :meth:`release`, at exit, or when the process dies (the kernel drops it)."""

    def __init__(self, root: str):
        self.root = root
        self.path = os.path.join(root, LOCK)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
            except (ValueError, OSError):
                holder = {}
            os.close(fd)
            who = (
                f"pid {holder.get('pid')} on {holder.get('host')} since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder['since']))}: {holder.get('command')}"
                if holder.get("pid")
                else "unknown holder"
            )
            raise RunLockedError(
                f"run folder {self.root} is in use by another winnow run ({who}); "
                "wait for it to finish or choose another output"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
            "command": " ".join(sys.argv)[:500],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
