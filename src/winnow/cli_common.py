"""What every ``winnow`` CLI verb shares: one-line errors, the run accounting table.

Every command is wrapped in :func:`cli_errors`: a :class:`~winnow.errors.WinnowError`, an
``OSError`` (a user's path: missing file, no permission, ...) or a pydantic ``ValidationError``
becomes ``error: <one line>`` on stderr and exit code 2, never a traceback. A command that calls
library code raising plain ``ValueError`` for bad input names it: ``@cli_errors(ValueError)``.

Imports only typer at module level (``winnow --help`` stays fast).

Example:
    >>> import typer
    >>> from winnow.errors import BudgetError
    >>> @cli_errors()
    ... def cmd():
    ...     raise BudgetError("budget must be >= 1 row, got '0'")
    >>> try:
    ...     cmd()
    ... except typer.Exit as e:
    ...     print("exit code", e.exit_code)
    exit code 2
"""

from __future__ import annotations

import contextlib
from typing import NoReturn

import typer

#: exit code of a usage / input error (the same as click's usage errors)
USAGE_ERROR = 2
#: errno values that mean the machine failed, not the user's input (exit code 1)
_RUNTIME_ERRNOS = {28, 27, 122, 5}  # ENOSPC, EFBIG, EDQUOT, EIO


def esc(s) -> str:
    """``s`` with rich markup escaped (paths and messages may hold ``[...]``)."""
    from rich.markup import escape

    return escape(str(s))


def one_line(msg) -> str:
    """A message on one line: newlines become ``; `` (so a CLI error is always one line)."""
    return "; ".join(p.strip() for p in str(msg).splitlines() if p.strip())


def fail(msg, code: int = USAGE_ERROR) -> NoReturn:
    """Print ``error: msg`` (one line, stderr) and exit with ``code``."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/bold red] {esc(one_line(msg))}")
    raise typer.Exit(code)


def error_message(e: BaseException) -> str:
    """The one-line text of an error the CLI reports (pydantic errors become ``where: what``)."""
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover
        ValidationError = ()  # type: ignore[assignment]
    if isinstance(e, ValidationError):
        from winnow.errors import explain_validation

        return explain_validation(e)
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.strerror}: {e.filename}"
    return one_line(e) or type(e).__name__


@contextlib.contextmanager
def cli_errors(*extra: type[BaseException]):
    """Turn expected errors into ``error: ...`` + exit 2. A decorator or a ``with`` block.

    Catches :class:`~winnow.errors.WinnowError`, ``OSError``, pydantic ``ValidationError`` and the
    ``extra`` classes; ``typer.Exit`` and click's own errors pass through.
    """
    import click
    from pydantic import ValidationError

    from winnow.errors import WinnowError

    try:
        yield
    except (typer.Exit, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise
    except (WinnowError, OSError, ValidationError, *extra) as e:
        # the machine, not the arguments: a full disk, a file too large, an I/O error (exit 1;
        # a resumed run continues from what was written)
        fail(error_message(e), code=1 if isinstance(e, OSError) and e.errno in _RUNTIME_ERRNOS else USAGE_ERROR)


def print_stats(m: dict, path: str) -> None:
    """Print a run's accounting (rows in/kept/rejected per step, reasons, the balance check)."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"winnow run: {esc(path)}", title_justify="left")
    for col in ("step", "rows in", "kept", "rejected", "kept %", "MB kept", "seconds"):
        t.add_column(col, justify="left" if col == "step" else "right")
    r = m["read"]
    tot = m["totals"]
    t.add_row(
        "read",
        f"{tot['rows_in']:,}",
        f"{r['rows_read']:,}",
        f"{r['rows_quarantined']:,} q",
        f"{100 * r['rows_read'] / max(tot['rows_in'], 1):.1f}",
        f"{r['bytes_read'] / 1e6:.2f}",
        f"{r['seconds']:.2f}",
    )
    for s in m["steps"]:
        t.add_row(
            f"{s['index']}. {s['name']}",
            f"{s['rows_in']:,}",
            f"{s['rows_kept']:,}",
            f"{s['rows_rejected']:,}",
            f"{100 * s['rows_kept'] / max(s['rows_in'], 1):.1f}",
            f"{s['bytes_kept'] / 1e6:.2f}",
            f"{s['seconds']:.2f}",
        )
    con.print(t)
    if r.get("errors"):
        con.print("[bold]quarantined[/bold] (q): " + esc(", ".join(f"{k} ×{v}" for k, v in r["errors"].items())))
    for s in m["steps"]:
        if s["reasons"]:
            top = list(s["reasons"].items())
            more = f", … {len(top) - 6} more" if len(top) > 6 else ""
            con.print(
                f"[bold]{esc(s['name'])}[/bold] rejected: " + esc(", ".join(f"{k} ×{v:,}" for k, v in top[:6])) + more
            )
    ok = m["checks"]["ok"]
    con.print(
        f"rows in {tot['rows_in']:,} = kept {tot['rows_kept']:,} + rejected {tot['rows_rejected']:,} + "
        f"quarantined {tot['rows_quarantined']:,}  "
        + ("[green]✔ balanced[/green]" if ok else "[red]✘ accounting mismatch[/red]")
        + f"   ({tot['seconds']:.1f} s, {m.get('executor', 'local')}, {m.get('workers', 1)} workers)"
    )


def check_accounting(m: dict) -> None:
    """Exit 3 when a run's accounting does not balance (in = kept + rejected + quarantined)."""
    if not m["checks"]["ok"]:
        fail("accounting check failed: see manifest.json 'checks'", code=3)


__all__ = ["USAGE_ERROR", "esc", "one_line", "fail", "error_message", "cli_errors", "print_stats", "check_accounting"]


@contextlib.contextmanager
def working(what: str):
    """Show ``what`` with a spinner and the elapsed seconds while a long phase runs (on a terminal),
    then one line with its duration (always, on stderr), so no command is silent for long.

    Example:
        >>> with working("scoring 10 documents"):
        ...     pass
    """
    import sys
    import time

    from rich.console import Console

    con = Console(stderr=True)
    t0 = time.perf_counter()
    if sys.stderr.isatty():
        with con.status(f"{esc(what)} …"):
            yield
    else:
        yield
    con.print(f"{esc(what)}: done in {time.perf_counter() - t0:.1f} s", highlight=False)


def run_progress(console, quiet: bool = False, description: str = "{task.description}"):
    """The progress bar of the long verbs (bench, mix): done/total runs, elapsed time and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
