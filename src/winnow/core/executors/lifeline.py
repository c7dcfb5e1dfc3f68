"""Worker processes exit when the process that started them dies.

A ``spawn`` pool worker whose driver is killed (``kill -9``) is re-parented and would sleep
forever holding its memory. :func:`exit_with_parent` starts a daemon thread in the worker
that polls ``os.getppid()`` and ends the worker as soon as the parent changes, and on Linux
also asks the kernel for ``SIGKILL`` on parent death (``prctl(PR_SET_PDEATHSIG)``).

Example:
    >>> exit_with_parent(poll_seconds=5.0)   # in a worker initializer   # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_started = False


def _pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc/prctl: the watchdog thread still works
        pass


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Make this process exit when its parent dies (idempotent)."""
    global _started
    if _started:
        return
    _started = True
    import multiprocessing as mp

    # the pid the pool's parent had, from multiprocessing's own handshake: correct even when
    # the driver died (and this process was re-parented) before this function ran
    known = mp.parent_process()
    parent = known.pid if known is not None and known.pid else os.getppid()
    # PR_SET_PDEATHSIG fires when the parent *thread* that started us exits: the local
    # executor starts its pool from the thread that runs the stage and closes it before that
    # thread returns, so this only fires when the driver dies. The poll below is the
    # portable guarantee.
    if parent != 1:
        _pdeathsig()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="winnow-parent-watchdog", daemon=True).start()
