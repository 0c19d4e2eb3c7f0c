"""summary.html: self-contained, escaped, and listing the clips worth reading per case."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

import jiwer

from sseu_harness.report.drilldown import LIMIT, badness, drill
from sseu_harness.report.writer import ReportWriter, write_summary_files
from sseu_harness.results.records import case_record, with_averages
from sseu_harness.scoring.metrics import clip_word_errors
from sseu_harness.scoring.rows import ClipRow
from sseu_harness.spec.cases import Case
from sseu_harness.spec.taxonomy import load_taxonomy
from tests.helpers.adapters import HOSTILE_ANSWER, Hostile

EVENTS = load_taxonomy().event_ids


class Page(HTMLParser):
    """Elements and text of a page as a browser's parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_asr_badness_is_the_clip_wer():
    for ref, hyp in [("the birch canoe slid", "the birch canoe"), ("a b c", "x y z w"), ("one two", "one two")]:
        errors, words = clip_word_errors(ref, hyp)
        assert badness("ASR", ClipRow(errors=errors, ref_words=words), EVENTS) == jiwer.wer(ref, hyp)


def test_at_badness_counts_true_classes_not_above_a_false_one():
    scores = [0.1] * len(EVENTS)
    truth = EVENTS[:3]
    for label, score in zip(truth, (0.9, 0.5, 0.3)):
        scores[EVENTS.index(label)] = score
    scores[EVENTS.index(EVENTS[5])] = 0.5  # a false class tied with the second true one
    assert badness("AT", ClipRow(truth=truth, scores=scores), EVENTS) == 2  # the tied one and the one below
    assert badness("AT", ClipRow(truth=truth, scores=[0.0] * len(EVENTS)), EVENTS) == 3  # no event named
    assert badness("ASC", ClipRow(correct=False), EVENTS) == 1 and badness("ASC", ClipRow(correct=True), EVENTS) == 0


def test_a_case_lists_at_most_fifty_clips_errors_and_refusals_first():
    rows = [ClipRow(item=f"c{k:03d}", run=0, correct=False, failure=None) for k in range(120)]
    rows[7] = replace(rows[7], failure="error: timeout")
    rows[99] = replace(rows[99], refused=True, failure="refused")
    rows[3] = replace(rows[3], failure="unparsable")
    got = drill("m-ASC-snr_0-independent", "ASC", rows, EVENTS)
    assert len(got.clips) == LIMIT
    assert [c.row.item for c in got.clips[:3]] == ["c007", "c099", "c003"]
    assert got.counts == {"error": 1, "refusal": 1, "parse failure": 1, "worst": 120}


def test_an_old_report_without_refusals_or_mixer_renders(tmp_path):
    records = [case_record(Case("<b>m</b>", "ASC", "snr_0", "independent"), [42.0], [0], 5, 0, 1.0)]
    meta = {"manifest": {"name": "t", "items": 5, "sha256": "0" * 64}, "prompts": {"version": "p"},
            "embedder": "e", "normalizer": "n", "seeds": [0], "harness_version": "x"}
    with ReportWriter(tmp_path) as out:
        write_summary_files(out, with_averages(records, {"ASC": ["snr_0"]}), meta)
    page = (tmp_path / "summary.html").read_text()
    assert "&lt;b&gt;m&lt;/b&gt;" in page and "<b>m</b>" not in page and "not recorded" in page


def test_summary_html_is_self_contained_escaped_and_drills_down(hostile_report):
    report, _ = hostile_report
    text = (report / "summary.html").read_text(encoding="utf-8")
    page = Page(text)
    scripts = [a for t, a in page.tags if t == "script"]
    assert len(scripts) == 1 and "src" not in scripts[0]  # ours, inline; none from an answer
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert all(a["src"].startswith("data:image/png;base64,") for t, a in page.tags if t == "img")
    assert len([t for t, _ in page.tags if t == "img"]) == 3  # one plot per task
    assert not any(t == "link" or ("href" in a and "//" in a["href"]) for t, a in page.tags)
    assert HOSTILE_ANSWER not in text and HOSTILE_ANSWER in "".join(page.text)

    rows = [json.loads(line) for line in (report / "predictions.jsonl").read_text().splitlines()]
    for case in sorted({r["case"] for r in rows}):
        mine = [r for r in rows if r["case"] == case]
        task = mine[0]["task"]
        errors = {r["item"] for r in mine if Hostile.kind(r["item"]) == 0}
        assert errors == {r["item"] for r in mine if (r["failure"] or "").startswith("error: ")}
        if task == "ASR":
            wrong = {r["item"] for r in mine if jiwer.wer(r["reference"], r["hypothesis"] or "") > 0}
        elif task == "ASC":
            wrong = {r["item"] for r in mine if r["predicted_scene"] != r["truth"]}
        else:
            wrong = {r["item"] for r in mine if Hostile.kind(r["item"]) in (0, 1)
                     or (Hostile.kind(r["item"]) == 2 and not set(r["truth"]) <= {"dog", "blender"})}
        section = text[text.index(f"<b>{case}</b>"):]
        section = section[:section.index("</details>")]
        listed = {tr.split('<td data-text="">', 2)[1].split("</td>")[0] for tr in section.split("<tr data-row")[1:]}
        assert listed == errors | wrong, case
        assert len(listed) <= LIMIT


def test_the_session_prints_tables_within_120_columns_with_intervals_when_asked(hostile_report):
    _, proc = hostile_report
    section = proc.stdout[proc.stdout.index(" SSEU-Bench "):]
    tables = section[section.index("Table 1"):section.index("report: ")]
    assert max(len(line) for line in tables.splitlines()) <= 120
    report_dir, _ = hostile_report
    records = json.loads((report_dir / "summary.json").read_text())["records"]
    asr = next(r for r in records if r.get("case") == "hostile-ASR-snr_0-independent")
    value, interval = f"{asr['value']:.2f}", f"[{asr['ci_low']:.1f}, {asr['ci_high']:.1f}]"
    assert value in tables and interval in tables  # --sseu-ci: the interval under the value
