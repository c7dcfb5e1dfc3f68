"""Hand freed memory back to the operating system between tasks (bounded peak RSS).

A long run executes many tasks in one process. glibc keeps freed heap memory for reuse and,
after a large array is freed, raises its mmap threshold so that later large arrays come from
the heap too — so without help the resident size ratchets up over the tasks and a 10× larger
corpus (more tasks of the same size) shows a higher peak. :func:`release_memory` trims the C
heap and Arrow's pool when the resident size has grown more than a slack above its level
after the first task; the runner calls it after every task, the reduce after each batch.
(Pinning glibc's mmap threshold *low* instead kept memory equally flat but cost ~20 % more time in
page faults on this repo's dedup benchmark.) :func:`tune_malloc` does the opposite, once per process
before the first task: arrays up to :data:`MMAP_THRESHOLD` come from the C heap, so a batch reuses
the memory the previous batch freed instead of having fresh pages faulted in and zeroed, and the
trims bound what the heap keeps. Both are no-ops where glibc is absent.

    >>> from winnow.core.memory import release_memory
    >>> isinstance(release_memory(), bool)   # True when it trimmed (the first call records the level)
    True
"""

from __future__ import annotations

import ctypes
import os
import sys

_state: dict = {}

#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: allocations up to this size come from the C heap once :func:`tune_malloc` ran (glibc's own
#: rule maps everything above 128 KiB, raising that to at most 32 MiB as mapped blocks are freed)
MMAP_THRESHOLD = 256 << 20
#: free memory glibc keeps at the top of its heap once :func:`tune_malloc` ran: one block of the
#: largest heap size, so a freed array is there for the next batch (glibc's own rule keeps twice
#: its threshold; more only holds memory in the caller's process)
TRIM_THRESHOLD = MMAP_THRESHOLD


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


class PeakRSS:
    """Peak resident size of this process inside a ``with`` block, sampled every ``every``
    seconds by a thread: ``start`` and ``peak`` in bytes, ``mib`` the growth in MiB (``None``
    where there is no ``/proc``).

    >>> with PeakRSS() as m:
    ...     block = bytearray(64 << 20)
    >>> m.peak >= m.start, m.mib is None or m.mib >= 0
    (True, True)
    """

    def __init__(self, every: float = 0.005):
        self.every = every
        self.start = self.peak = 0
        self.mib: float | None = None

    def sample(self) -> None:
        """Take a sample now (the thread samples every ``every`` seconds)."""
        self.peak = max(self.peak, _rss())

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> "PeakRSS":
        import threading

        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss())
        self.mib = round((self.peak - self.start) / 2**20, 1) if self.start else None


def tune_malloc() -> bool:
    """Let glibc serve allocations up to :data:`MMAP_THRESHOLD` bytes from its heap, where a
    freed block is reused by the next allocation, and keep at most :data:`TRIM_THRESHOLD` of
    free memory at the heap's top (more goes back to the OS on ``free``; :func:`release_memory`
    trims the rest between tasks). Returns whether it changed the settings: once per process,
    and never where glibc is absent or ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
    is set (the user's choice wins).

    Why: above glibc's threshold (at most 32 MiB) every allocation is a fresh ``mmap`` given
    back on free, so each batch's large arrays (the word pass alone reserves 3 bytes of slots
    per byte of text) are faulted in and zeroed anew. On the dedup benchmark's 10x corpus
    this halves the page faults (270k to 120k) and lowers the peak resident size (470 to
    440 MB), since the trims of :func:`release_memory` still bound what the heap keeps
    (``benchmarks/RESULTS.md``). It changes only when memory returns to the OS, never what a
    program computes; it applies to the whole process (a run with ``workers=1`` is in the
    caller's).

        >>> isinstance(tune_malloc(), bool)
        True
        >>> tune_malloc()   # once per process
        False
    """
    if "tuned" in _state:
        return False
    _state["tuned"] = True
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    lib = _glibc()
    if lib is None:
        return False
    return bool(lib.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(lib.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


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
