"""HTML report of a run (funnel, reasons with examples, distributions, dedup clusters) or of a
selection bench (metric vs budget, confidence intervals): one self-contained file.

Example:
    >>> from winnow.report import build_report
    >>> build_report("runs/demo")                          # doctest: +SKIP
    'runs/demo/report.html'

The page needs no network: CSS and JS are inline, figures are SVG data URIs, and all text
from the data is escaped (jinja2 autoescape, plus a Content-Security-Policy that lets only the
page's own script run). Rows are read from bounded samples of the shards, row group by row
group, so the report of a huge run costs about as much as that of a small one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time

from winnow.report.options import ReportOptions

__all__ = ["build_report", "render_report", "ReportOptions"]


def render_report(path: str, opts: ReportOptions | None = None) -> str:
    """Return the report HTML for a run folder (``manifest.json``), a bench folder (``bench.json``)
    and/or a mix folder (``mix.json``).

    Raises:
        FileNotFoundError: ``path`` holds neither a finished run nor a bench output.
    """
    t0 = time.perf_counter()
    opts = opts or ReportOptions()
    if not os.path.exists(path):
        raise FileNotFoundError(f"report: path {path!r} does not exist")
    run = bench = None
    is_run = os.path.isdir(path) and (
        os.path.exists(os.path.join(path, "manifest.json")) or os.path.isdir(os.path.join(path, "_work"))
    )
    from winnow.report.bench import find_bench_json

    if is_run:
        from winnow.report.run import collect_run

        run = collect_run(path, opts)
    if find_bench_json(path) is not None and (not is_run or os.path.exists(os.path.join(path, "bench.json"))):
        from winnow.report.bench import collect_bench

        bench = collect_bench(path)
    from winnow.report.mix import collect_mix, find_mix_json

    mix = collect_mix(path) if find_mix_json(path) is not None else None
    from winnow.report.scores import collect_scores, find_scores

    scores = collect_scores(path, opts.examples) if find_scores(path) is not None else None
    if run is None and bench is None and mix is None and scores is None:
        raise FileNotFoundError(
            f"report: {path!r} is neither a winnow run folder (manifest.json), a bench output "
            "(bench.json), a mix output (mix.json) nor a score file (id, score: winnow attribute / select)"
        )
    import jinja2

    from winnow import __version__
    from winnow.report import template

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tpl = env.from_string(template.PAGE)
    digest = base64.b64encode(hashlib.sha256(template.SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return tpl.render(
        run=run,
        bench=bench,
        mix=mix,
        scores=scores,
        title=os.path.abspath(path),
        css=template.CSS,
        script=template.SCRIPT,
        script_hash=f"sha256-{digest}",
        version=__version__,
        seconds=time.perf_counter() - t0,
    )


def build_report(path: str, output: str | None = None, opts: ReportOptions | None = None) -> str:
    """Write the report of ``path`` (a run or bench folder) to ``output`` (default
    ``path/report.html``) atomically; return the output path.

    Example:
        >>> build_report("runs/demo", "demo.html")        # doctest: +SKIP
        'demo.html'
    """
    html = render_report(path, opts)
    if output is None:
        output = os.path.join(path if os.path.isdir(path) else os.path.dirname(path) or ".", "report.html")
    d = os.path.dirname(os.path.abspath(output))
    os.makedirs(d, exist_ok=True)
    tmp = f"{output}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.replace(tmp, output)
    return output
