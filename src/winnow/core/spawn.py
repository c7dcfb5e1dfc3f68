"""Process pools from user code: ``spawn`` workers that do not re-run the user's ``__main__``.

Used by every process pool in winnow (the local executor, ``winnow export``, ``winnow mix``), so a
script without ``if __name__ == "__main__":``, code piped to ``python -``, ``python -c`` and notebook
cells all run with ``workers > 1``.

Example:
    >>> import sys
    >>> with main_not_reimported():
    ...     hasattr(sys.modules["__main__"], "__file__")
    False
"""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def main_not_reimported():
    """Start spawn workers without re-running the user's ``__main__``.

    ``spawn`` children normally re-import the parent's main script (or module), so a script that
    calls ``Pipeline.run`` at top level without ``if __name__ == "__main__":`` would run again in
    every worker, and ``python - < script.py`` fails on the path ``<stdin>``. Hiding ``__file__``
    and ``__spec__`` while the workers start makes them skip it; what they need from ``__main__``
    (custom steps) arrives by value with the pickled pipeline.
    """
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if main is not None and hasattr(main, k)}
    try:
        if main is not None:
            if "__file__" in saved:
                del main.__file__
            main.__spec__ = None
        yield
    finally:
        for k, v in saved.items():
            setattr(main, k, v)
        if main is not None and "__spec__" not in saved:
            with contextlib.suppress(AttributeError):
                del main.__spec__
