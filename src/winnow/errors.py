"""Every error winnow raises on purpose, under one base: :class:`WinnowError`.

Catch ``WinnowError`` to handle any of them (every ``winnow`` CLI verb does, through
:mod:`winnow.cli_common`); catch a built-in base (``ValueError``, ``FileExistsError``, ...) as
before — each class keeps the one it had. Messages are one line that names the bad key, path
or value and, where there is one, the fix: the same text serves a CLI user and a Python caller.

=====================  ==================  ======================================================
class                  built-in base       raised when
=====================  ==================  ======================================================
ConfigError            ValueError          a pipeline YAML / mapping is invalid
UnknownStepError       KeyError            a step name is not registered
InputError             ValueError          input paths or formats cannot be read
StrictInputError       RuntimeError        unreadable input under ``--strict``
RunExistsError         FileExistsError     the output folder holds a run (use resume/overwrite)
IncompleteRunError     RuntimeError        a run folder is not finished or not resumable
ModelFileError         ValueError          a saved quality model is missing or corrupted
BudgetError            ValueError          a selection budget cannot be parsed or satisfied
SelectorError          ValueError          an unknown selector, a bad parameter or unusable data
AttributionError       ValueError          a bad argument or option to an attribution function
BenchConfigError       ValueError          a bad benchmark config
=====================  ==================  ======================================================

Example:
    >>> from winnow.errors import BudgetError, WinnowError
    >>> from winnow.select import parse_budget
    >>> try:
    ...     parse_budget("lots")
    ... except WinnowError as e:
    ...     print(type(e).__name__, isinstance(e, ValueError))
    BudgetError True
"""

from __future__ import annotations


class WinnowError(Exception):
    """Base of every error winnow raises on purpose (a one-line message for users and callers)."""


class ConfigError(WinnowError, ValueError):
    """The pipeline configuration is invalid; the message names the key and the valid ones."""


class UnknownStepError(WinnowError, KeyError):
    """A step name that is not registered; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(WinnowError, ValueError):
    """The input specification cannot be satisfied (no files, unknown format...)."""


class StrictInputError(WinnowError, RuntimeError):
    """Unreadable input under ``--strict``."""


class RunExistsError(WinnowError, FileExistsError):
    """The output folder already holds a run; pass ``resume`` or ``overwrite``."""


class IncompleteRunError(WinnowError, RuntimeError):
    """A run folder that is not finished, or cannot be resumed with these settings."""


class ModelFileError(WinnowError, ValueError):
    """A saved model folder is missing, corrupted, or of an unknown format/version."""


class BudgetError(WinnowError, ValueError):
    """A budget that cannot be parsed or satisfied."""


class SelectorError(WinnowError, ValueError):
    """An unknown selection method, a bad selector parameter, or data the selector cannot use."""


class AttributionError(WinnowError, ValueError):
    """A bad argument to an attribution function; the message names the argument."""


class RunLockedError(WinnowError, RuntimeError):
    """Another process holds the run folder (the message names its pid, host and command)."""


class ManifestError(WinnowError, ValueError):
    """A run's manifest.json is missing a field readers rely on (e.g. hand-edited)."""


class BenchConfigError(WinnowError, ValueError):
    """A bad benchmark config; the message names the key."""


def explain_validation(err, prefix: str = "") -> str:
    """One line from a pydantic ``ValidationError``: ``where: what`` per error, joined by ``; ``.

    Example:
        >>> from pydantic import BaseModel, ValidationError
        >>> class M(BaseModel):
        ...     n: int
        >>> try:
        ...     M(n="x")
        ... except ValidationError as e:
        ...     print(explain_validation(e, "opts"))
        opts.n: Input should be a valid integer, unable to parse string as an integer
    """
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(e["loc"]))
        msg = "unknown parameter" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


__all__ = [
    "WinnowError",
    "ConfigError",
    "UnknownStepError",
    "InputError",
    "StrictInputError",
    "RunExistsError",
    "IncompleteRunError",
    "ModelFileError",
    "BudgetError",
    "SelectorError",
    "AttributionError",
    "BenchConfigError",
    "explain_validation",
]
