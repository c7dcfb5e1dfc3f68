"""winnow.core.memory: the trim rule (trim only when RSS is well above its first-task level) and
the heap tuning (freed arrays are reused by the next batch instead of being faulted in anew)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import winnow.core.memory as M


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm (Linux)")
def test_release_memory_trims_only_above_the_reference_level(monkeypatch):
    monkeypatch.setattr(M, "_state", {})
    assert M._rss() > 0
    assert M.release_memory() is False  # first call: sets the reference, nothing to do
    assert M.release_memory() is False  # no growth
    # above MMAP_THRESHOLD: mapped on its own whether or not tune_malloc ran in this process
    big = np.ones(M.MMAP_THRESHOLD + (44 << 20), np.uint8)  # 300 MB, touched
    assert M.release_memory(slack=64 << 20) is True
    assert big.sum() == big.size  # live memory is untouched by a trim
    del big
    assert M.release_memory(slack=64 << 20) is False  # a freed large array went back to the OS


_FAULTS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import winnow.core.memory as M
    tuned = M.tune_malloc() if sys.argv[1] == "tune" else False
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(64 << 20, np.uint8)  # the first batch: its pages are new in any case
    del a
    f0 = faults()
    for _ in range(10):  # ten more batches of the same size
        a = np.ones(64 << 20, np.uint8)
        del a
    print(tuned, faults() - f0)
    """
)


def _child_faults(mode: str, **env) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(M._glibc() is None, reason="glibc's mallopt")
def test_tune_malloc_lets_the_next_batch_reuse_freed_memory():
    # 64 MB is above glibc's own threshold (at most 32 MiB): each array is a fresh mapping,
    # faulted in page by page (or huge page by huge page) every time
    tuned, plain_faults = _child_faults("plain")
    assert tuned == "False" and plain_faults >= 10 * 16  # at least one fault per 4 MB per batch
    tuned, tuned_faults = _child_faults("tune")
    assert tuned == "True"
    assert tuned_faults * 10 < plain_faults  # the heap hands the freed block back
    # the user's own glibc setting wins
    tuned, _ = _child_faults("tune", MALLOC_MMAP_THRESHOLD_=str(1 << 20))
    assert tuned == "False"
    tuned, _ = _child_faults("tune", MALLOC_TRIM_THRESHOLD_=str(1 << 20))
    assert tuned == "False"
