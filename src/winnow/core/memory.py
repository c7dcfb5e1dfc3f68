"""Hand freed memory back to the operating system between tasks (bounded peak RSS).

A long run executes many tasks in one process. glibc keeps freed heap memory for reuse and,
after a large array is freed, raises its mmap threshold so that later large arrays come from
the heap too — so without help the resident size ratchets up over the tasks and a 10× larger
corpus (more tasks of the same size) shows a higher peak. :func:`release_memory` trims the C
heap and Arrow's pool when the resident size has grown more than a slack above its level
after the first task; the runner calls it after every task, the reduce after each batch.
(Pinning glibc's mmap threshold instead kept memory equally flat but cost ~20 % more time in
page faults on this repo's dedup benchmark.) A no-op where glibc is absent.

    >>> from winnow.core.memory import release_memory
    >>> isinstance(release_memory(), bool)   # True when it trimmed (the first call records the level)
    True
"""

from __future__ import annotations

import ctypes
import os
import sys

_state: dict = {}


def _glibc():
    if "libc" not in _state:
        lib = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL("libc.so.6")
                lib.malloc_trim  # noqa: B018 — glibc only
            except (OSError, AttributeError):
                lib = None
        _state["libc"] = lib
    return _state["libc"]


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_memory(slack: int = 64 << 20) -> bool:
    """Return free memory of Arrow's pool and of the C heap to the operating system when the
    resident size is more than ``slack`` bytes above its level at the first call (normally
    the end of the first task). A task's working set is kept otherwise: trimming it would
    only cost page faults when the next task needs the same memory again. Returns whether
    it trimmed."""
    rss = _rss()
    ref = _state.setdefault("ref", rss)
    if not rss or rss <= ref + slack:  # no reading (not Linux) or no growth: keep the memory
        return False
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    lib = _glibc()
    if lib is not None:
        lib.malloc_trim(0)
    return True
