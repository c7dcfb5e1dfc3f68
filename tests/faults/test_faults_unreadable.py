"""Issue 19, item 6: an input sub-folder that cannot be listed is reported, not skipped
silently (2,000 rows vanished with a "balanced" manifest)."""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import tempfile

from _faults import good_rows, jsonl_bytes, python, write_lines

CODE = (
    "import sys; from winnow import Pipeline\n"
    "from winnow.core.io.readers import InputError\n"
    "try:\n"
    "    Pipeline([]).run(sys.argv[1], sys.argv[2], workers=1)\n"
    "except InputError as e:\n"
    "    print('InputError:', e); sys.exit(2)\n"
)


def _drop_read_override() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set, so even root gets "permission denied" on a mode-000 folder."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_subfolder_is_an_error(real_docs):
    base = tempfile.mkdtemp(prefix="winnow-unreadable-")
    try:
        os.chmod(base, 0o777)
        write_lines(os.path.join(base, "in", "ok.jsonl"), jsonl_bytes(good_rows(real_docs, 10)))
        write_lines(os.path.join(base, "in", "locked", "hidden.jsonl"), jsonl_bytes(good_rows(real_docs, 2000)))
        for d, _, files in os.walk(base):
            os.chmod(d, 0o777)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        os.chmod(os.path.join(base, "in", "locked"), 0)
        kw = {"preexec_fn": _drop_read_override} if os.geteuid() == 0 else {}
        r = python(CODE, os.path.join(base, "in"), os.path.join(base, "run"), cwd=base, **kw)
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
        assert "cannot read input folder" in r.stdout and "locked" in r.stdout
        assert not os.path.exists(os.path.join(base, "run"))
    finally:
        os.chmod(os.path.join(base, "in", "locked"), stat.S_IRWXU)
        shutil.rmtree(base, ignore_errors=True)
