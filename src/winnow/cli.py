"""`winnow` command line: one verb per capability.

Heavy modules (pyarrow, torch, ray) are imported inside the commands, so ``winnow --help``
starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from winnow.cli_common import check_accounting, cli_errors, esc, fail, print_stats

app = typer.Typer(
    name="winnow",
    help=(
        "winnow: curate, select and prove ML training data.\n\n"
        "Quick start:\n\n"
        "  winnow datasets build sample --out data/sample   # assemble the real sample corpus\n\n"
        "  winnow run examples/demo.yaml                    # curate: data/, rejects/, quarantine/, manifest.json\n\n"
        "  winnow stats runs/demo                           # where every row went\n\n"
        "  winnow bench examples/demo_bench.yaml            # select on the curated rows, prove with a proxy\n\n"
        "  winnow report runs/demo                          # self-contained report.html\n\n"
        "Every verb has --help; `winnow steps` lists the pipeline steps and their arguments."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(
    help="Build the bundled sample corpora (from installed packages, offline).", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


@app.command()
@cli_errors()
def run(
    pipeline: str = typer.Argument(..., help="Pipeline YAML (input, output, steps)."),
    executor: Optional[str] = typer.Option(None, help="local (process pool, default) or ray."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (default: CPU count)."),
    resume: bool = typer.Option(False, help="Finish an interrupted run: completed shards are skipped."),
    overwrite: bool = typer.Option(False, help="Delete an existing output folder first."),
    strict: bool = typer.Option(False, help="Stop at the first unreadable input instead of quarantining it."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Override the output folder of the YAML."),
    input_path: Optional[List[str]] = typer.Option(
        None, "--input", "-i", help="Override the YAML's input.path (repeatable): run an example pipeline on your data."
    ),
    progress: bool = typer.Option(True, help="Show progress bars."),
    ray_address: Optional[str] = typer.Option(
        None, help="ray: connect to this cluster (auto, ray://head:10001); default: start a local Ray."
    ),
    ray_num_cpus: Optional[int] = typer.Option(None, help="ray: CPUs of a locally started Ray (default: all)."),
    ray_cpus_per_task: Optional[float] = typer.Option(None, help="ray: CPUs reserved per read+map task (default 1)."),
    ray_batch_rows: Optional[int] = typer.Option(None, help="ray: rows per Arrow batch (default: input.batch_rows)."),
    ray_object_store_memory: Optional[str] = typer.Option(
        None, help="ray: object store size of a local Ray, e.g. 2GB (default: Ray's)."
    ),
    ray_max_retries: Optional[int] = typer.Option(None, help="ray: retries of a task whose worker died (default 3)."),
    ray_reduce_partitions: Optional[int] = typer.Option(
        None, help="ray: tasks per phase of a dedup reduce (default: cluster CPUs / CPUs per task)."
    ),
):
    """Run a pipeline YAML (`--input`/`-o` point it at your data and folder). Writes data/ (kept rows),
    rejects/ (with step and reason), quarantine/ (unreadable input with file, offset, error) and
    manifest.json (per-step accounting).

    Example YAML:

        input: {path: "data/sample/raw/*.jsonl.gz"}

        output: runs/demo

        steps:

          - length: {min_words: 5}
    """
    from winnow.core.pipeline.pipeline import run_yaml

    ex_opts = {
        "address": ray_address,
        "num_cpus": ray_num_cpus,
        "cpus_per_task": ray_cpus_per_task,
        "batch_rows": ray_batch_rows,
        "object_store_memory": ray_object_store_memory,
        "max_retries": ray_max_retries,
        "reduce_partitions": ray_reduce_partitions,
    }
    res = run_yaml(
        pipeline,
        executor=executor,
        workers=workers,
        resume=resume,
        overwrite=overwrite,
        strict=strict,
        progress=progress and sys.stderr.isatty(),
        output=output,
        executor_options=ex_opts,
        input=input_path or None,
    )
    print_stats(res.manifest, res.path)
    check_accounting(res.manifest)


@app.command()
@cli_errors()
def stats(
    run_dir: str = typer.Argument(..., help="A run folder (holds manifest.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw accounting as JSON."),
):
    """Print a run's accounting: rows and bytes in/kept/rejected per step, reasons, time."""
    from winnow.core.pipeline.manifest import load_manifest

    m = load_manifest(run_dir)
    if as_json:
        typer.echo(
            json.dumps({"totals": m["totals"], "read": m["read"], "steps": m["steps"], "checks": m["checks"]}, indent=2)
        )
    else:
        print_stats(m, run_dir)


def _field_default(name: str, field) -> str:
    if field.is_required():
        return f"{name} (required)"
    if field.default_factory is not None:
        return f"{name}={field.default_factory()!r}"
    return f"{name}={field.default!r}"


@app.command("steps")
def list_steps(
    name: Optional[str] = typer.Argument(None, help="Show one step in full: its whole docstring and arguments."),
):
    """List the available pipeline steps and their arguments (`winnow steps NAME` for one step in full)."""
    from rich.console import Console
    from rich.table import Table

    from winnow.core.pipeline.registry import get_step_class, step_names

    console = Console()
    if name is not None:
        if name not in step_names():
            fail(f"unknown step {name!r}; known: {', '.join(step_names())}")
        cls = get_step_class(name)
        console.print(f"[bold]{name}[/bold]  ({cls.__module__}.{cls.__name__})\n")
        console.print(esc(inspect_doc(cls)))
        console.print("\n[bold]arguments[/bold]")
        for k, v in cls.model_fields.items():
            console.print("  " + esc(_field_default(k, v)), soft_wrap=True)
        return
    t = Table(title="pipeline steps (winnow steps NAME shows one in full)")
    t.add_column("step", no_wrap=True)
    t.add_column("arguments (default)", overflow="fold")
    t.add_column("what it does", overflow="fold")
    for n in step_names():
        cls = get_step_class(n)
        args = "\n".join(_field_default(k, v) for k, v in cls.model_fields.items())
        t.add_row(n, esc(args), esc(inspect_doc(cls).split("\n\n")[0].replace("\n", " ")))
    console.print(t)


def inspect_doc(cls) -> str:
    """The class docstring, dedented (empty if none)."""
    import inspect

    return inspect.getdoc(cls) or ""


@datasets_app.command("build")
@cli_errors(ValueError)
def datasets_build(
    name: str = typer.Argument("sample", help="Dataset to build: sample."),
    out: str = typer.Option("data/sample", "--out", "-o", help="Output folder."),
    shards: int = typer.Option(8, help="Number of JSONL.gz shards."),
    seed: int = typer.Option(0, help="Seed for sampling and shuffling."),
):
    """Assemble a real mixed-quality corpus from installed packages (offline), with each source's
    origin and licence in its manifest.json."""
    from winnow.core.datasets import build_dataset

    info = build_dataset(name, out, shards=shards, seed=seed)
    typer.echo(f"wrote {info['rows']:,} documents ({info['bytes'] / 1e6:.1f} MB) to {out}")
    for src in info["sources"]:
        typer.echo(f"  {src['name']:<18} {src['rows']:>6,} docs  {src['licence']}")


# Capability verbs live next to their code, in modules that import only typer at top level
# (heavy imports inside the commands). One line each: verb -> "module:attr", where attr is a
# typer.Typer (a group of sub-commands) or a function (a single command).
PLUGINS: dict[str, str] = {
    "scaling": "winnow.predict.scaling.cli:app",
    "dedup": "winnow.curate.dedup.cli:dedup",
    "attribute": "winnow.select.attribution.cli:attribute_cmd",
    "select": "winnow.select.cli:select",
    "bench": "winnow.prove.bench.cli:bench",
    "mix": "winnow.prove.mix.cli:mix",
    "quality": "winnow.curate.quality.cli:app",
    "decontam": "winnow.curate.decontam.cli:decontam",
    "report": "winnow.report.cli:report",
    "export": "winnow.deliver.export.cli:export_cmd",
}


def _plug() -> None:
    import importlib

    for verb, target in PLUGINS.items():
        mod, attr = target.split(":")
        obj = getattr(importlib.import_module(mod), attr)
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=verb)
        else:
            app.command(verb)(obj)


_plug()


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()
