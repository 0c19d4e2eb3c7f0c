"""summary.html: one self-contained page (inline CSS and script, plots as data URIs) that opens from a CI artifact.

Everything a model or a user wrote (answers, model names, file paths) goes
through `html.escape`; no data is placed inside the script, which only sorts
and filters the rows it finds. A Content-Security-Policy allows that one
script (by its hash), inline styles and data: images, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from dataclasses import dataclass
from typing import Callable, Iterable

from sseu_harness.report import tables
from sseu_harness.report.drilldown import CaseDrill, Clip
from sseu_harness.results.gates import gate_status
from sseu_harness.results.paper import departures
from sseu_harness.results.records import Record
from sseu_harness.spec.snr import sort_key

AVERAGES = ("avg", "avg_mixed")


def _snr_order(label: str) -> float:
    """Columns' order, averages last."""
    return 1e9 + AVERAGES.index(label) if label in AVERAGES else sort_key(label)

SHOWN_ANSWER = 1_500  # characters of a raw answer on the page (predictions.jsonl keeps up to 4,000)
FILTERS = ("model", "task", "snr", "mode")

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
th{background:#f0f0f0;cursor:pointer;user-select:none}th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-width:42em;font-size:12px}
.bar{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd;z-index:1}
.bar label{margin-right:1em}.fail{color:#b00}.pass{color:#070}
details{margin:.3em 0}summary{cursor:pointer}summary h2{display:inline}.note{font-size:13px;color:#555}.plots figure{display:inline-block;width:48%;margin:.3em}.plots img{max-width:100%}
.tag{display:inline-block;padding:0 4px;margin:1px;border-radius:3px;background:#eee;font-size:12px}
.tag-error{background:#fdd}.tag-refusal{background:#fec}.tag-parse{background:#ffd}.tag-worst{background:#def}
"""

SCRIPT = """
(function(){
  var sel = document.querySelectorAll('select[data-filter]');
  function apply(){
    var want = {};
    sel.forEach(function(s){ want[s.dataset.filter] = s.value; });
    document.querySelectorAll('[data-row]').forEach(function(el){
      var ok = true;
      for (var k in want){ if (want[k] && el.hasAttribute('data-' + k) && el.getAttribute('data-' + k) !== want[k]) ok = false; }
      el.hidden = !ok;
    });
    document.querySelectorAll('[data-count]').forEach(function(el){
      var target = document.getElementById(el.dataset.count);
      el.textContent = target.querySelectorAll('[data-row]:not([hidden])').length;
    });
  }
  sel.forEach(function(s){ s.addEventListener('change', apply); });
  document.querySelectorAll('table.sortable th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var table = th.closest('table'), body = table.tBodies[0];
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function(h){ h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var index = Array.prototype.indexOf.call(th.parentNode.children, th);
      var rows = Array.prototype.slice.call(body.rows);
      function key(row){
        var c = row.cells[index]; var v = c.dataset.sort !== undefined ? c.dataset.sort : c.textContent;
        var n = parseFloat(v); return isNaN(n) || c.dataset.text !== undefined ? v : n;
      }
      rows.sort(function(a, b){
        var x = key(a), y = key(b), r;
        if (typeof x === 'number' && typeof y === 'number') r = x - y; else r = String(x).localeCompare(String(y));
        return asc ? r : -r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
  apply();
})();
"""


def _attrs(**values: str) -> str:
    return "".join(f' data-{k}="{escape(str(v))}"' for k, v in values.items())


def _num(value, digits: int = 2) -> str:
    if value is None:
        return '<td class="num" data-sort="">-</td>'
    return f'<td class="num" data-sort="{float(value)!r}">{float(value):.{digits}f}</td>'


def _text(value) -> str:
    return f'<td data-text="">{escape("" if value is None else str(value))}</td>'


def _head(columns: Iterable[str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr></thead>"


def _records_table(records: list[Record]) -> str:
    columns = ["model", "task", "snr", "mode", "metric", "value", "std", "ci low", "ci high", "runs", "n",
               "parse failures", "refusals", "errors"]
    body = []
    for r in records:
        snr_order = _snr_order(r.snr)
        body.append(
            f"<tr data-row{_attrs(model=r.model, task=r.task, snr=r.snr, mode=r.mode)}>"
            + _text(r.model) + _text(r.task)
            + f'<td data-sort="{escape(str(snr_order))}" data-text="">{escape(r.snr)}</td>'
            + _text(r.mode) + _text(r.metric) + _num(r.value) + _num(r.std)
            + _num(r.ci_low) + _num(r.ci_high) + _num(r.runs, 0) + _num(r.n, 0)
            + _num(r.parse_failures, 0) + _num(r.refusals or 0, 0) + _num(r.errors or 0, 0)
            + "</tr>"
        )
    return (f'<p><span data-count="records"></span> of {len(records)} records shown.</p>'
            f'<table id="records" class="sortable">{_head(columns)}<tbody>{"".join(body)}</tbody></table>')


def _figure(record: Record | None) -> str:
    return f'<td class="num">{escape(tables.cell(record))}</td>'


def _clip_row(drill: CaseDrill, clip: Clip, where: dict) -> str:
    row = clip.row
    answer = row.answer or ""
    shown = answer[:SHOWN_ANSWER] + (f"\n… ({len(answer) - SHOWN_ANSWER} more characters in predictions.jsonl)"
                                     if len(answer) > SHOWN_ANSWER else "")
    if drill.task == "ASR":
        parsed, truth = row.hypothesis, row.reference
        measure = f"WER {clip.badness * 100:.0f} %"
    elif drill.task == "ASC":
        parsed = f"{row.prediction!s} → {row.predicted_scene!s}"
        truth, measure = row.truth, "wrong scene" if clip.badness else ""
    else:
        parsed = "; ".join(row.prediction or []) if row.prediction is not None else None
        truth = "; ".join(row.truth or [])
        measure = f"{clip.badness:.0f} true class(es) not above a false one" if clip.badness else ""
    tags = "".join(f'<span class="tag tag-{r.split()[0]}">{escape(r)}</span>' for r in clip.reasons)
    failure = f"<br><small>{escape(row.failure)}</small>" if row.failure else ""
    return (f"<tr data-row{_attrs(**where)}>" + _text(row.item) + _num(row.run, 0)
            + f"<td>{tags}{failure}</td>" + f"<td><pre>{escape(shown)}</pre></td>" + _text(parsed) + _text(truth)
            + f'<td data-sort="{clip.badness!r}">{escape(measure)}</td></tr>')


def _drilldown(drills: list[CaseDrill], records: list[Record]) -> str:
    by_case = {r.case: r for r in records if not r.is_average}
    parts = []
    for drill in drills:
        record = by_case.get(drill.case)
        if record is None or not drill.clips:
            continue
        where = {k: getattr(record, k) for k in FILTERS}
        counts = ", ".join(f"{n} {kind}" for kind, n in drill.counts.items() if n)
        body = "".join(_clip_row(drill, clip, where) for clip in drill.clips)
        parts.append(
            f"<details data-row{_attrs(**where)}><summary><b>{escape(drill.case)}</b>: {escape(counts)}"
            f" (showing {len(drill.clips)})</summary><table class=\"sortable\">"
            f"{_head(['clip', 'run', 'why', 'raw answer', 'parsed', 'truth', 'how wrong'])}<tbody>{body}</tbody></table></details>"
        )
    if not parts:
        return "<p>No failed, refused, unparsable or wrong clip in any case.</p>"
    return "".join(parts)


def _filters(records: list[Record]) -> str:
    parts = []
    for key in FILTERS:
        values = list(dict.fromkeys(getattr(r, key) for r in records))
        if key == "snr":
            values.sort(key=_snr_order)
        options = '<option value="">all</option>' + "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
        parts.append(f'<label>{key} <select data-filter="{key}">{options}</select></label>')
    return '<div class="bar">' + "".join(parts) + "</div>"


@dataclass(frozen=True)
class ReportPage:
    """What summary.html is made of; each section builder renders one part of it."""

    records: list[Record]
    meta: dict
    gates: list[dict]
    comparisons: list[dict]
    plots: dict[str, bytes]
    drills: list[CaseDrill]


def _about(page: ReportPage) -> str:
    """The data set and configuration, in one line."""
    meta, manifest, run = page.meta, page.meta.get("manifest", {}), page.meta.get("run") or {}
    return (f"Data <code>{escape(str(manifest.get('name')))}</code> ({escape(str(manifest.get('items')))} clips, "
            f"sha256 <code>{escape(str(manifest.get('sha256', ''))[:12])}</code>), prompts "
            f"<code>{escape(str(meta.get('prompts', {}).get('version')))}</code>, embedder "
            f"<code>{escape(str(meta.get('embedder')))}</code>, normaliser <code>{escape(str(meta.get('normalizer')))}</code>, "
            f"mixer <code>{escape(str(meta.get('mixer', 'not recorded')))}</code>, seeds {escape(str(meta.get('seeds')))}, "
            f"harness {escape(str(meta.get('harness_version')))}"
            + (f", run {escape(str(run.get('id')))}" if run else "") + ".")


def _gates(page: ReportPage) -> str:
    if not page.gates:
        return ""
    items = "".join(f'<li class="{"pass" if g["passed"] else "fail"}">{gate_status(g)}: '
                    f'<code>{escape(g["name"])}</code>: {escape(g["message"])}</li>' for g in page.gates)
    return f"<h2>Gates</h2><ul>{items}</ul>"


def _beside_paper(page: ReportPage) -> str:
    """"Beside the paper": the ways this run is not like for like with the paper, then our figures beside its."""
    table = tables.paper_table(page.records, fmt="html")
    if table is None:
        return ""
    found = departures(page.meta)
    return (f"<h2>{tables.PAPER_TITLE}</h2>"
            + (tables.departures_table(found, fmt="html") if found else "")
            + table.replace("<table>", '<table class="sortable">', 1))


def _comparisons(page: ReportPage) -> str:
    if not page.comparisons:
        return ""
    return "<h2>Against the baseline</h2>" + tables.comparison_table(page.comparisons, fmt="html").replace(
        "<table>", '<table class="sortable">', 1)


def _table1(page: ReportPage) -> str:
    """Table 1 per task and mode, as in the terminal and summary.md; each row filterable by its model."""
    parts = []
    for table in tables.table1_data(page.records):
        rows = "".join(f"<tr data-row{_attrs(model=m, task=table.task, mode=table.mode)}><td>{escape(m)}</td>"
                       + "".join(map(_figure, cells)) + "</tr>" for m, cells in table.rows)
        parts.append(f'<h3>{escape(table.title)}</h3><table class="sortable">{_head(["system", *table.columns])}'
                     f"<tbody>{rows}</tbody></table>")
    return "<h2>Table 1</h2>" + "".join(parts) if parts else ""


def _table2(page: ReportPage) -> str:
    """Table 2, then the footnote naming the systems that are not in every table."""
    rows = "".join(f"<tr data-row{_attrs(model=model, mode=mode)}><td>{escape(model)}</td><td>{mode}</td>"
                   + "".join(map(_figure, cells)) + "</tr>" for model, mode, cells in tables.table2_rows(page.records))
    note = tables.coverage_note(page.records)
    return ((f'<h2>{escape(tables.TABLE2_TITLE)}</h2><table class="sortable">{_head(tables.TABLE2_HEADERS)}'
             f"<tbody>{rows}</tbody></table>" if rows else "")
            + (f'<p class="note">{escape(note)}</p>' if note else ""))


def _plots(page: ReportPage) -> str:
    images = "".join(f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
                     f"<figcaption>{escape(name)}</figcaption></figure>" for name, png in sorted(page.plots.items()))
    return f'<h2>Plots</h2><div class="plots">{images or "<p>No plot: no record.</p>"}</div>'


def _clips(page: ReportPage) -> str:
    return ("<h2>Clips per case</h2>\n<p>Per case at most 50 clips: failed model calls, refusals, unparsable answers, "
            "then the worst-scored\n(ASR: highest clip WER; ASC: wrong scene; AT: most true classes ranked below or "
            "tied with a false one).</p>\n" + _drilldown(page.drills, page.records))


def _records(page: ReportPage) -> str:
    """Every record, every figure: last, folded."""
    return f'<details><summary><h2>Records</h2></summary>{_records_table(page.records)}</details>'


# The page's sections, top to bottom, under the line naming the data set and the filter bar: results first, the
# evidence after. Each builder returns its HTML ("" to leave its section out) and becomes <section id="KEY">.
SECTIONS: tuple[tuple[str, Callable[[ReportPage], str]], ...] = (
    ("gates", _gates),
    ("baseline", _comparisons),
    ("table1", _table1),
    ("table2", _table2),
    ("beside-the-paper", _beside_paper),
    ("plots", _plots),
    ("clips", _clips),
    ("all-records", _records),
)


def summary_html(summary: dict, plots: dict[str, bytes], drills: list[CaseDrill]) -> str:
    page = ReportPage(summary["records"], summary["meta"], summary.get("gates", []), summary.get("comparisons", []),
                      plots, drills)
    manifest = page.meta.get("manifest", {})
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    sections = "\n".join(f'<section id="{key}">{html}</section>' for key, build in SECTIONS if (html := build(page)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SSEU-Bench summary · {escape(str(manifest.get('name')))}</title><style>{STYLE}</style></head>
<body><h1>SSEU-Bench summary</h1>
<p id="about">{_about(page)}</p>
{_filters(page.records)}
{sections}
<script>{SCRIPT}</script>
</body></html>
"""
