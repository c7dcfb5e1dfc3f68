"""winnow.core.memory: the trim rule (trim only when RSS is well above its first-task level)."""

import sys

import numpy as np
import pytest

import winnow.core.memory as M


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm (Linux)")
def test_release_memory_trims_only_above_the_reference_level(monkeypatch):
    monkeypatch.setattr(M, "_state", {})
    assert M._rss() > 0
    assert M.release_memory() is False  # first call: sets the reference, nothing to do
    assert M.release_memory() is False  # no growth
    big = np.ones(200 << 20, np.uint8)  # 200 MB, touched
    assert M.release_memory(slack=64 << 20) is True
    assert big.sum() == 200 << 20  # live memory is untouched by a trim
    del big
    assert M.release_memory(slack=64 << 20) is False  # a freed large array went back to the OS
