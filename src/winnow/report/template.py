"""The report page: one self-contained HTML file (inline CSS and JS, figures as data URIs).

Rendered by jinja2 with autoescaping on: document text, ids, reasons and paths are always
escaped. A Content-Security-Policy allows only the page's own script (by hash) and data:
images, so even markup that slipped through could not load or run anything.
"""

SCRIPT = """
(function () {
  function setAll(open) {
    document.querySelectorAll('details').forEach(function (d) { d.open = open; });
  }
  var ex = document.getElementById('expand-all');
  var co = document.getElementById('collapse-all');
  if (ex) { ex.addEventListener('click', function () { setAll(true); }); }
  if (co) { co.addEventListener('click', function () { setAll(false); }); }
  var f = document.getElementById('reason-filter');
  if (f) {
    f.addEventListener('input', function () {
      var q = f.value.toLowerCase();
      document.querySelectorAll('tr.rule').forEach(function (tr) {
        var hit = !q || tr.getAttribute('data-reason').toLowerCase().indexOf(q) >= 0;
        tr.style.display = hit ? '' : 'none';
        var nx = tr.nextElementSibling;
        if (nx && nx.classList.contains('rule-examples')) { nx.style.display = hit ? '' : 'none'; }
      });
    });
  }
  document.documentElement.setAttribute('data-report-ready', '1');
})();
"""

CSS = """
:root { --fg:#1d2330; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --kept:#2e7d32; --rej:#c62828;
        --accent:#1565c0; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:18px 28px 10px; }
header h1 { margin:0 0 4px; font-size:22px; }
header .sub { color:var(--muted); font-size:13px; word-break:break-all; }
nav { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line);
      padding:8px 28px; display:flex; gap:16px; flex-wrap:wrap; align-items:center; }
nav a { color:var(--accent); text-decoration:none; font-weight:600; }
nav .tools { margin-left:auto; display:flex; gap:8px; }
button, input[type=search] { font:inherit; font-size:13px; padding:3px 10px; border:1px solid var(--line);
      border-radius:6px; background:#fff; }
button { cursor:pointer; }
main { padding:10px 28px 40px; max-width:1400px; }
section.block { background:#fff; border:1px solid var(--line); border-radius:10px; padding:16px 20px;
                margin:18px 0; }
h2 { margin:0 0 12px; font-size:18px; }
h3 { margin:18px 0 8px; font-size:15px; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:150px; background:#fbfcfe; }
.card .v { font-size:20px; font-weight:700; }
.card .l { color:var(--muted); font-size:12px; }
.ok { color:var(--kept); font-weight:700; } .bad { color:var(--rej); font-weight:700; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
th { background:#f1f4f9; font-weight:600; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.bar { height:10px; background:var(--rej); border-radius:3px; min-width:1px; }
.barwrap { width:160px; background:#f3e5e5; border-radius:3px; }
.muted { color:var(--muted); } .small { font-size:12px; }
code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px;
       background:#f1f4f9; padding:1px 4px; border-radius:4px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); gap:14px; }
.grid-wide { display:grid; grid-template-columns:repeat(auto-fill,minmax(640px,1fr)); gap:14px; }
ul.warnings { background:#fff7e0; border:1px solid #e8c66a; border-radius:8px; padding:8px 8px 8px 28px; }
figure { margin:0; border:1px solid var(--line); border-radius:8px; padding:8px; background:#fff; }
figure img { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:12px; margin-top:4px; }
img.wide { max-width:100%; height:auto; }
details { margin:4px 0; }
summary { cursor:pointer; color:var(--accent); }
.docs { display:grid; grid-template-columns:repeat(auto-fill,minmax(320px,1fr)); gap:10px; margin:8px 0; }
.doc { border:1px solid var(--line); border-left:4px solid var(--rej); border-radius:6px; padding:6px 10px;
       background:#fffdfd; min-width:0; }
.doc.kept { border-left-color:var(--kept); background:#fbfffb; }
.doc.rep { border-left-color:var(--accent); background:#f8fbff; }
.doc .meta { font-size:11px; color:var(--muted); word-break:break-all; margin-bottom:4px; }
.doc pre { margin:0; white-space:pre-wrap; word-break:break-word; font-size:12px; max-height:260px;
           overflow:auto; font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.cluster { display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:10px; margin:8px 0 16px; }
.near { display:grid; grid-template-columns:1fr 1fr; gap:12px; }
td pre { margin:0; white-space:pre-wrap; word-break:break-all; font-size:12px; max-height:120px; overflow:auto; }
table.quarantine { table-layout:fixed; }
pre.config { background:#f6f8fb; padding:10px; border-radius:6px; overflow:auto; font-size:12px; }
footer { color:var(--muted); font-size:12px; padding:0 28px 30px; }
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{{ script_hash }}'; base-uri 'none'; form-action 'none'">
<title>winnow report — {{ title }}</title>
<style>{{ css|safe }}</style>
</head>
<body>
{% macro doc(d, cls="") -%}
<div class="doc {{ cls }}">
  <div class="meta">{% if d.id is not none %}<code>{{ d.id }}</code>{% endif %}
    {% if d.source %} · {{ d.source }}{% endif %}
    {% if d.chars is not none %} · {{ "{:,}".format(d.chars) }} chars{% endif %}
    {% if d.reason %} · <b>{{ d.reason }}</b>{% endif %}
    {% if d.duplicate_of %} · duplicate of <code>{{ d.duplicate_of }}</code>{% endif %}
    {% for k, v in d.stats.items() %} · {{ k }}=<b>{{ v }}</b>{% endfor %}</div>
  <pre class="text">{{ d.text }}{% if d.truncated %} …{% endif %}</pre>
</div>
{%- endmacro %}
<header>
  <h1>winnow report{% if run %} — run{% endif %}{% if bench %}{% if run %} and{% endif %} bench{% endif %}{% if mix %} — mixture{% endif %}{% if scores %} — scores{% endif %}</h1>
  <div class="sub">{{ title }}{% if run %} · created {{ run.manifest.created }} · winnow {{ run.manifest.winnow_version }}
  · {{ run.manifest.executor }} executor, {{ run.manifest.workers }} workers, {{ run.manifest.tasks }} tasks{% endif %}</div>
</header>
<nav>
  {% if run %}<a href="#overview">Overview</a><a href="#funnel">Funnel</a><a href="#reasons">Reasons</a>
  {% if run.distributions %}<a href="#distributions">Distributions</a>{% endif %}
  {% if run.dedup %}<a href="#dedup">Dedup</a>{% endif %}
  {% if run.quarantine %}<a href="#quarantine">Quarantine</a>{% endif %}
  <a href="#config">Config</a>{% endif %}
  {% if bench %}<a href="#bench">Selection bench</a>{% endif %}
  {% if mix %}<a href="#mix">Source mixture</a>{% endif %}
  {% if scores %}<a href="#scores">Scores</a>{% endif %}
  <span class="tools">{% if run %}<input type="search" id="reason-filter" placeholder="filter rules…" aria-label="filter rules">{% endif %}
  <button id="expand-all" type="button">expand all</button><button id="collapse-all" type="button">collapse all</button></span>
</nav>
<main>
{% if run %}
<section class="block" id="overview">
  <h2>Overview</h2>
  <div class="cards">
    <div class="card"><div class="v" data-total="rows_in">{{ "{:,}".format(run.totals.rows_in) }}</div><div class="l">rows in</div></div>
    <div class="card"><div class="v ok" data-total="rows_kept">{{ "{:,}".format(run.totals.rows_kept) }}</div>
      <div class="l">kept ({{ "%.1f"|format(100.0 * run.totals.rows_kept / (run.totals.rows_in or 1)) }}%)</div></div>
    <div class="card"><div class="v bad" data-total="rows_rejected">{{ "{:,}".format(run.totals.rows_rejected) }}</div><div class="l">rejected</div></div>
    <div class="card"><div class="v" data-total="rows_quarantined">{{ "{:,}".format(run.totals.rows_quarantined) }}</div><div class="l">quarantined (unreadable)</div></div>
    <div class="card"><div class="v">{{ "%.2f"|format(run.totals.bytes_in / 1e6) }} → {{ "%.2f"|format(run.totals.bytes_kept / 1e6) }}</div><div class="l">MB of text in → kept</div></div>
    <div class="card"><div class="v">{{ "%.1f"|format(run.totals.seconds) }} s</div><div class="l">wall time</div></div>
    <div class="card"><div class="v {{ 'ok' if run.checks.ok else 'bad' }}" id="accounting">{{ "✔ balanced" if run.checks.ok else "✘ mismatch" }}</div>
      <div class="l">rows in = kept + rejected + quarantined; shards on disk match</div></div>
  </div>
  {% if run.notes %}<ul class="small muted">{% for n in run.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</section>

<section class="block" id="funnel">
  <h2>Funnel</h2>
  <img class="wide" src="{{ run.funnel.plot }}" alt="rows, bytes{% if run.funnel.token_column %} and tokens{% endif %} left after each step">
  <table id="funnel-table">
    <tr><th>stage</th><th class="n">rows in</th><th class="n">rows kept</th><th class="n">rejected</th><th class="n">% kept of step input</th>
      <th class="n">% of read left</th><th class="n">MB kept</th>{% if run.funnel.token_column %}<th class="n">tokens left{% if not run.funnel.tokens_exact %} (est.){% endif %}</th>{% endif %}
      <th class="n">seconds</th><th class="n">rows/s</th></tr>
    {% for s in run.funnel.stages %}
    <tr data-stage="{{ s.name }}" data-rows-in="{{ s.rows_in }}" data-rows-kept="{{ s.rows_kept }}" data-rows-rejected="{{ s.rows_rejected }}" data-tokens="{{ '%.0f'|format(s.tokens) if s.tokens is not none else '' }}">
      <td>{{ s.name }}{% if s.kind == "global" %} <span class="muted small">(global)</span>{% endif %}</td>
      <td class="n">{{ "{:,}".format(s.rows_in) }}</td><td class="n">{{ "{:,}".format(s.rows_kept) }}</td>
      <td class="n">{{ "{:,}".format(s.rows_rejected) }}{% if s.kind == "read" %} <span class="muted small">quarantined</span>{% endif %}</td>
      <td class="n">{{ "%.1f"|format(s.pct_of_step) }}%</td><td class="n">{{ "%.1f"|format(s.pct_of_read) }}%</td>
      <td class="n">{{ "%.2f"|format(s.bytes_kept / 1e6) }}</td>
      {% if run.funnel.token_column %}<td class="n">{{ "{:,.0f}".format(s.tokens) if s.tokens is not none else "—" }}</td>{% endif %}
      <td class="n">{{ "%.2f"|format(s.seconds) }}</td><td class="n">{{ "{:,.0f}".format(s.rows_per_s) if s.rows_per_s else "—" }}</td>
    </tr>
    {% endfor %}
  </table>
  {% if run.funnel.token_column %}<p class="small muted">tokens from column <code>{{ run.funnel.token_column }}</code>; “—” where rows were dropped before the column existed.</p>{% endif %}
  <h3>Time per step</h3>
  <img class="wide" src="{{ run.funnel.time_plot }}" alt="seconds per step">
</section>

<section class="block" id="reasons">
  <h2>Reasons</h2>
  <p class="small muted">Counts are exact (from the manifest). Examples are real rows from <code>rejects/</code> and <code>data/</code>, found in a scan of at most {{ "{:,}".format(run.budgets.scan_rows) }} rows per shard set.</p>
  {% for st in run.steps %}
  <div class="step" id="{{ st.anchor }}" data-step="{{ st.index }}" data-step-name="{{ st.name }}">
    <h3>{{ st.index }}. {{ st.name }} <span class="muted small">({{ st.kind }}){% if st.args %} · <code>{{ st.args }}</code>{% endif %}
      · in {{ "{:,}".format(st.rows_in) }} · kept {{ "{:,}".format(st.rows_kept) }} · rejected <span data-step-rejected="{{ st.index }}">{{ "{:,}".format(st.rows_rejected) }}</span> · {{ "%.2f"|format(st.seconds) }} s</span></h3>
    {% if st.rules %}
    <table class="rules">
      <tr><th>rule</th><th class="n">documents</th><th class="n">% of step input</th><th class="n">% of read</th><th></th></tr>
      {% for r in st.rules %}
      <tr class="rule" data-reason="{{ r.reason }}" data-count="{{ r.count }}">
        <td><code>{{ r.reason }}</code></td><td class="n">{{ "{:,}".format(r.count) }}</td>
        <td class="n">{{ "%.2f"|format(r.pct_step) }}%</td><td class="n">{{ "%.2f"|format(r.pct_read) }}%</td>
        <td><div class="barwrap"><div class="bar" style="width: {{ '%.1f'|format(r.pct_step if r.pct_step <= 100 else 100) }}%"></div></div></td>
      </tr>
      <tr class="rule-examples"><td colspan="5">
        <details><summary>{{ r.examples|length }} example{{ "" if r.examples|length == 1 else "s" }} rejected by <code>{{ r.reason }}</code></summary>
          {% if r.examples %}<div class="docs">{% for d in r.examples %}{{ doc(d) }}{% endfor %}</div>
          {% else %}<p class="small muted">no example in the scanned sample</p>{% endif %}
        </details>
      </td></tr>
      {% endfor %}
    </table>
    {% else %}<p class="small muted">nothing rejected by this step</p>{% endif %}
    {% for nt in st.near %}
    <details class="near-threshold"><summary>documents nearest the threshold <code>{{ nt.column }}</code> {{ "≥" if nt.bound == "min" else "≤" }} {{ nt.value }}</summary>
      <div class="near">
        <div><div class="small"><b class="ok">just kept</b> (in <code>data/</code>)</div>
          {% for d in nt.kept %}{{ doc(d, "kept") }}{% else %}<p class="small muted">none kept near this bound</p>{% endfor %}</div>
        <div><div class="small"><b class="bad">just rejected</b></div>
          {% for d in nt.rejected %}{{ doc(d) }}{% else %}<p class="small muted">none rejected by this bound</p>{% endfor %}</div>
      </div>
    </details>
    {% endfor %}
  </div>
  {% endfor %}
</section>

{% if run.distributions %}
<section class="block" id="distributions">
  <h2>Distributions</h2>
  <p class="small muted">Every numeric statistic column found in the shards; from samples of at most {{ "{:,}".format(run.budgets.hist_rows) }} rows per population (kept rows, each step's rejects), scaled back to estimated documents. Dashed lines: the step's thresholds; shaded: the rejected side.</p>
  <div class="grid">
  {% for d in run.distributions %}
    <figure id="{{ d.anchor }}" data-column="{{ d.column }}">
      <img src="{{ d.plot }}" alt="histogram of {{ d.column }}">
      <figcaption><code>{{ d.column }}</code>{% if d.step %} from step {{ d.step }}{% endif %}
        {% if d.low is not none or d.high is not none %} · thresholds {{ d.low if d.low is not none else "−∞" }} … {{ d.high if d.high is not none else "+∞" }}{% endif %}
        · {{ "{:,}".format(d.sampled) }} sampled values ≈ {{ "{:,}".format(d.population) }} documents
        {% if d.info.log %} · log scale{% endif %}{% if d.info.outside %} · {{ "{:,}".format(d.info.outside) }} values outside the range drawn, counted in the edge bins{% endif %}</figcaption>
    </figure>
  {% endfor %}
  </div>
</section>
{% endif %}

{% if run.dedup %}
<section class="block" id="dedup">
  <h2>Dedup</h2>
  {% for dd in run.dedup %}
  <div id="{{ dd.anchor }}">
  <h3>{{ dd.index }}. {{ dd.name }}</h3>
  <div class="cards">
    <div class="card"><div class="v">{{ "{:,}".format(dd.duplicates) }}</div><div class="l">duplicates removed</div></div>
    <div class="card"><div class="v">{{ "{:,}".format(dd.clusters) }}</div><div class="l">clusters with ≥ 2 documents{% if not dd.complete %} (in the scan){% endif %}</div></div>
    <div class="card"><div class="v">{{ "{:,}".format(dd.docs_in_clusters) }}</div><div class="l">documents in those clusters</div></div>
    <div class="card"><div class="v">{{ "{:,}".format(dd.largest) }}</div><div class="l">largest cluster</div></div>
  </div>
  {% if not dd.complete %}<p class="small muted">scanned {{ "{:,}".format(dd.scanned) }} of {{ "{:,}".format(dd.duplicates) }} duplicates.</p>{% endif %}
  {% if dd.plot %}<img class="wide" src="{{ dd.plot }}" alt="cluster size distribution">{% endif %}
  <table style="max-width:360px"><tr><th class="n">cluster size</th><th class="n">clusters</th></tr>
  {% for size, n in dd.size_table %}<tr><td class="n">{{ size }}</td><td class="n">{{ "{:,}".format(n) }}</td></tr>{% endfor %}</table>
  <h3>Example clusters</h3>
  {% for c in dd.examples %}
  <details {% if loop.first %}open{% endif %}><summary>cluster of {{ c.size }} documents, kept <code>{{ c.rep_id }}</code></summary>
    <div class="cluster">
      {% if c.rep %}{{ doc(c.rep, "rep") }}{% else %}<div class="doc rep"><div class="meta"><code>{{ c.rep_id }}</code></div><pre class="text muted">(representative not found in the scanned shards)</pre></div>{% endif %}
      {% for d in c.members %}{{ doc(d) }}{% endfor %}
    </div>
  </details>
  {% endfor %}
  </div>
  {% endfor %}
</section>
{% endif %}

{% if run.quarantine %}
<section class="block" id="quarantine">
  <h2>Quarantine</h2>
  <p class="small">{{ "{:,}".format(run.read.rows_quarantined) }} rows in {{ "{:,}".format(run.read.quarantine_entries) }} unreadable pieces of input.
    {% for k, v in run.read.errors.items() %}<code>{{ k }}</code>: {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</p>
  <table class="quarantine"><tr><th style="width:22%">file</th><th class="n" style="width:7%">offset</th><th class="n" style="width:5%">rows</th><th style="width:26%">error</th><th>raw (excerpt)</th></tr>
  {% for q in run.quarantine %}<tr><td><code>{{ q.file }}</code></td><td class="n">{{ q.offset }}</td><td class="n">{{ q.rows }}</td><td>{{ q.error }}</td><td><pre class="text small">{{ q.raw }}</pre></td></tr>{% endfor %}
  </table>
</section>
{% endif %}

<section class="block" id="config">
  <h2>Config and checks</h2>
  <table style="max-width:560px">{% for k, v in run.checks.items() %}<tr><td><code>{{ k }}</code></td><td>{{ v }}</td></tr>{% endfor %}</table>
  <details><summary>pipeline config</summary><pre class="config">{{ run.config_json }}</pre></details>
</section>
{% endif %}

{% if mix %}
<section class="block" id="mix">
  <h2>Source mixture <span class="muted small">(winnow mix: weights = share of training tokens per {{ mix.group_by }})</span></h2>
  <p class="small muted"><code>{{ mix.path }}</code> — objective: {% for k, w in mix.objective.items() %}{{ "%.2f"|format(w) }} × {{ k }}{% if not loop.last %} + {% endif %}{% endfor %} (eval loss, nats/token; lower is better); proxy {{ mix.proxy.preset }}, {{ "{:,}".format(mix.proxy.tokens or 0) }} tokens per run</p>
  <table style="max-width:900px"><tr><th>{{ mix.group_by }}</th><th class="n">docs</th><th class="n">tokens</th><th class="n">natural</th><th class="n">uniform</th><th class="n">chosen</th><th class="n">upper limit</th></tr>
  {% for g in mix.groups %}<tr><td>{{ g.name }}</td><td class="n">{{ "{:,}".format(g.docs) }}</td><td class="n">{{ "{:,}".format(g.tokens) }}</td><td class="n">{{ "%.3f"|format(g.natural) }}</td><td class="n">{{ "%.3f"|format(g.uniform) }}</td><td class="n"><b>{{ "%.3f"|format(g.chosen) }}</b></td><td class="n">{{ "%.3f"|format(g.max) }}</td></tr>{% endfor %}</table>
  {% if mix.regression %}<p>Regression ({{ mix.regression.n_runs }} proxy runs, 5-fold out-of-fold Spearman): {% for e, v in mix.regression.cv_spearman.items() %}{{ e }}: quadratic {{ "%.3f"|format(v.quadratic) }}, gradient-boosted {{ "%.3f"|format(v.gbm) }} (chosen: {{ mix.regression.chosen[e] }}){% if not loop.last %}; {% endif %}{% endfor %}; objective {{ "%.3f"|format(mix.regression.objective_cv_spearman) }}.</p>{% endif %}
  {% if mix.mixtures %}<h3>Validation over {{ mix.seeds|length }} seeds (95% CI)</h3>
  <table style="max-width:900px"><tr><th>mixture</th><th class="n">objective loss</th><th class="n">95% CI</th><th class="n">gain of chosen [95% CI]</th></tr>
  {% for k, m in mix.mixtures.items() %}{% set g = mix.gains.get("vs_" ~ k) %}<tr><td>{{ k }}</td><td class="n">{{ "%.4f"|format(m.mean) }}</td><td class="n">[{{ "%.4f"|format(m.ci_low) }}, {{ "%.4f"|format(m.ci_high) }}]</td><td class="n">{% if g %}{{ "%+.4f"|format(g.mean) }} [{{ "%+.4f"|format(g.ci_low) }}, {{ "%+.4f"|format(g.ci_high) }}]{% if g.significant %} *{% endif %}{% else %}—{% endif %}</td></tr>{% endfor %}</table>{% endif %}
  {% if mix.plot %}<figure><img src="{{ mix.plot }}" alt="mixture regression and weights"><figcaption>left: predicted vs measured objective loss (out of fold); right: weights per group</figcaption></figure>{% endif %}
</section>
{% endif %}
{% if scores %}
<section class="block" id="scores">
  <h2>Scores <span class="muted small">(per document: winnow attribute / winnow select; higher = keep first)</span></h2>
  <p class="small muted"><code>{{ scores.path }}</code> — {{ "{:,}".format(scores.n) }} documents, {{ "{:,}".format(scores.finite) }} with a finite score{% if scores.selected is not none %}, {{ "{:,}".format(scores.selected) }} selected{% endif %}</p>
  <table style="max-width:700px"><tr>{% for k in scores.quantiles %}<th class="n">{{ k }}</th>{% endfor %}</tr><tr>{% for v in scores.quantiles.values() %}<td class="n">{{ "%.4g"|format(v) }}</td>{% endfor %}</tr></table>
  {% if scores.plot %}<figure><img src="{{ scores.plot }}" alt="score histogram"><figcaption>distribution of the finite scores</figcaption></figure>{% endif %}
  <div style="display:flex;gap:2em;flex-wrap:wrap">
  <table><tr><th>highest scored id</th><th class="n">score</th></tr>{% for r in scores.top %}<tr><td><code>{{ r.id }}</code></td><td class="n">{{ "%.4g"|format(r.score) }}</td></tr>{% endfor %}</table>
  <table><tr><th>lowest scored id</th><th class="n">score</th></tr>{% for r in scores.bottom %}<tr><td><code>{{ r.id }}</code></td><td class="n">{{ "%.4g"|format(r.score) }}</td></tr>{% endfor %}</table>
  </div>
</section>
{% endif %}
{% if bench %}
<section class="block" id="bench">
  <h2>Selection bench</h2>
  <p class="small muted"><code>{{ bench.path }}</code></p>
  {% if bench.setup %}{% set su = bench.setup %}
  {% if su.warnings %}<ul class="warnings">{% for w in su.warnings %}<li><b>warning:</b> {{ w }}</li>{% endfor %}</ul>{% endif %}
  <h3>Data</h3>
  <table style="max-width:1100px"><tr><th>set</th><th>path</th><th>size</th></tr>{% for a, b, c in su.data %}<tr><td>{{ a }}</td><td><code>{{ b }}</code></td><td>{{ c }}</td></tr>{% endfor %}</table>
  <h3>Proxy recipes <span class="muted small">(fixed compute: every subset is trained for the same tokens)</span></h3>
  <table style="max-width:1100px"><tr><th>proxy</th><th class="n">parameters</th><th class="n">layers</th><th class="n">width</th><th class="n">heads</th><th class="n">context</th><th class="n">batch</th><th class="n">steps</th><th class="n">tokens</th><th class="n">lr</th><th>schedule</th></tr>
  {% for p in su.proxies %}<tr><td>{{ p.label }}{% if loop.first %} <span class="muted small">(primary)</span>{% endif %}</td><td class="n">{{ "{:,}".format(p.params or 0) }}</td><td class="n">{{ p.layers }}</td><td class="n">{{ p.width }}</td><td class="n">{{ p.heads }}</td><td class="n">{{ p.context }}</td><td class="n">{{ p.batch }}</td><td class="n">{{ p.steps }}</td><td class="n">{{ "{:,}".format(p.tokens) }}</td><td class="n">{{ p.lr }}</td><td class="small">{{ p.schedule }}</td></tr>{% endfor %}</table>
  {% if su.transfer %}<p>{% for t in su.transfer %}Rank transfer {{ t.small }} → {{ t.large }} on <b>{{ t.eval }}</b>: Spearman {{ "%.2f"|format(t.spearman) }} [{{ "%.2f"|format(t.ci_low) }}, {{ "%.2f"|format(t.ci_high) }}] over {{ t.cells }} strategy × budget cells.<br>{% endfor %}</p>{% endif %}
  {% if su.leaks %}<h3>Leak check <span class="muted small">(exact copies and shared {{ su.leak_n }}-grams, before training)</span></h3>
  <table style="max-width:900px"><tr><th>documents of</th><th>overlap with</th><th class="n">exact</th><th class="n">{{ su.leak_n }}-gram</th><th class="n">of</th></tr>{% for p in su.leaks %}<tr><td>{{ p.a }}</td><td>{{ p.b }}</td><td class="n">{{ p.exact }}</td><td class="n">{{ p.ngram }}</td><td class="n">{{ p.of }}</td></tr>{% endfor %}</table>{% endif %}
  {% endif %}
  {% if bench.meta %}<table style="max-width:900px" class="meta-table">{% for k, v in bench.meta.items() %}<tr><td><code>{{ k }}</code></td><td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}
  <div class="{{ 'grid-wide' if bench.setup else 'grid' }}">{% for p in bench.plots %}<figure data-task="{{ p.task }}"><img src="{{ p.plot }}" alt="{{ bench.metric }} vs budget {{ p.task }}"><figcaption>{{ p.task }} — mean over seeds with 95% CI (error bars); dots are single seeds{% if bench.full_pool %}; dotted: the full pool{% endif %}</figcaption></figure>{% endfor %}</div>
  <h3>Mean and 95% confidence interval{% if bench.higher_is_better is not none %} <span class="muted small">({{ bench.metric }}: {{ "higher" if bench.higher_is_better else "lower" }} is better; gain is oriented so that + = better)</span>{% endif %}</h3>
  <table id="bench-table">
    <tr>{% if bench.has_task %}<th>task</th>{% endif %}<th>strategy</th><th class="n">budget</th><th class="n">seeds</th><th class="n">{{ bench.metric }} (mean)</th><th class="n">95% CI</th><th class="n">gain vs random [95% CI]</th><th>significant</th></tr>
    {% for t in bench.table %}
    <tr data-strategy="{{ t.strategy }}" data-budget="{{ t.budget }}" data-mean="{{ t.mean }}" data-lo="{{ t.lo if t.lo is not none else '' }}" data-hi="{{ t.hi if t.hi is not none else '' }}">
      {% if bench.has_task %}<td>{{ t.task }}</td>{% endif %}<td>{{ t.strategy }}{% if t.model_aware %} <span class="muted small">(model-aware)</span>{% endif %}</td><td class="n">{{ t.budget }}</td>
      <td class="n">{{ t.n if t.n is not none else "—" }}</td><td class="n">{{ "%.4g"|format(t.mean) }}</td>
      <td class="n">{% if t.lo is not none %}[{{ "%.4g"|format(t.lo) }}, {{ "%.4g"|format(t.hi) }}]{% else %}—{% endif %}</td>
      <td class="n">{% if t.gain is not none %}{{ "%+.4g"|format(t.gain) }}{% if t.gain_lo is not none and t.gain_hi is not none %} [{{ "%+.3g"|format(t.gain_lo) }}, {{ "%+.3g"|format(t.gain_hi) }}]{% endif %}{% if t.gain_computed %}<span class="muted small"> Δmean</span>{% endif %}{% else %}—{% endif %}</td>
      <td>{% if t.significant %}<span class="ok">yes</span>{% elif t.significant is sameas false %}<span class="muted">no</span>{% else %}—{% endif %}</td>
    </tr>
    {% endfor %}
    {% if bench.full_pool %}<tr class="muted"><td{% if bench.has_task %} colspan="2"{% endif %}>full pool</td><td class="n">100%</td><td></td><td class="n">{{ "%.4g"|format(bench.full_pool.mean) }}</td>
      <td class="n">{% if bench.full_pool.lo is not none %}[{{ "%.4g"|format(bench.full_pool.lo) }}, {{ "%.4g"|format(bench.full_pool.hi) }}]{% endif %}</td><td></td><td></td></tr>{% endif %}
  </table>
  {% if bench.detection %}
  <h3>Detection of corrupted examples (AUC)</h3>
  <table style="max-width:600px"><tr><th>strategy</th><th class="n">AUC (mean)</th><th class="n">95% CI</th></tr>
  {% for d in bench.detection %}<tr><td>{{ d.strategy }}</td><td class="n">{{ "%.3f"|format(d.auc) }}</td><td class="n">{% if d.lo is not none %}[{{ "%.3f"|format(d.lo) }}, {{ "%.3f"|format(d.hi) }}]{% else %}—{% endif %}</td></tr>{% endfor %}
  </table>{% endif %}
  {% if bench.notes %}<ul class="small muted">{% for n in bench.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
  {% if bench.rows %}<details><summary>{{ bench.rows|length }} runs (one per strategy, budget, seed)</summary>
  <table><tr>{% if bench.has_task %}<th>task</th>{% endif %}<th>strategy</th><th class="n">budget</th><th class="n">seed</th><th class="n">{{ bench.metric }}</th></tr>
  {% for r in bench.rows %}<tr>{% if bench.has_task %}<td>{{ r.task }}</td>{% endif %}<td>{{ r.strategy }}</td><td class="n">{{ r.budget }}</td><td class="n">{{ r.seed }}</td><td class="n">{{ "%.5g"|format(r.value) }}</td></tr>{% endfor %}
  </table></details>{% endif %}
  {% if bench.config %}<details><summary>bench config</summary><pre class="config">{{ bench.config }}</pre></details>{% endif %}
</section>
{% endif %}
</main>
<footer>Generated by winnow {{ version }} in {{ "%.1f"|format(seconds) }} s. Self-contained: no network needed.</footer>
<script>{{ script|safe }}</script>
</body>
</html>
"""
