"""Our records beside the paper's figures, and every way a run is not like for like with the paper.

A model that names a paper system (``meta.models[label].paper_system``) gets,
on each record for which the paper has a figure, ``paper``: the system, the
table, the paper's value and std and ``delta`` = ours - paper. The departures
are computed from the run's meta against the paper's protocol
(`data/paper_figures.toml`), so a report says what differed in that run, not
a fixed text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sseu_harness.results.records import Record
from sseu_harness.spec.paper import PaperFigures, load_paper_figures


@dataclass(frozen=True)
class Departure:
    """One way this run differs from the paper's protocol (or cannot be shown to match it)."""

    topic: str
    ours: str
    paper: str


def paper_systems(meta: dict) -> dict[str, str]:
    """label -> the paper system it names, for the models that name one."""
    return {label: model["paper_system"] for label, model in (meta.get("models") or {}).items()
            if model.get("paper_system")}


def attach_paper(records: list[Record], meta: dict, figures: PaperFigures | None = None) -> list[Record]:
    """`records` with ``paper`` set where the model names a paper system and the paper has the figure."""
    systems = paper_systems(meta)
    if not systems:
        return records
    figures = figures or load_paper_figures()
    out = []
    for record in records:
        system = systems.get(record.model)
        figure = figures.figure(system, record.task, record.snr, record.mode) if system else None
        paper = None if figure is None else {"system": figure.system, "table": figure.table, "value": figure.value,
                                             "std": figure.std, "delta": record.value - figure.value}
        out.append(replace(record, paper=paper))
    return out


def inside_interval(record: Record) -> bool | None:
    """Whether the paper's value lies inside our 95 % interval; None without an interval."""
    if record.paper is None or record.ci_low is None or record.ci_high is None:
        return None
    return record.ci_low <= record.paper["value"] <= record.ci_high


def departures(meta: dict, figures: PaperFigures | None = None) -> list[Departure]:
    """Every way the run in `meta` is not like for like with the paper, for its models that name a paper system."""
    systems = paper_systems(meta)
    if not systems:
        return []
    figures = figures or load_paper_figures()
    protocol, models = figures.protocol, meta["models"]
    manifest = meta.get("manifest") or {}
    out = [
        Departure("protocol", str(meta.get("protocol", "harness")), "paper (--sseu-protocol paper sets its runs, "
                  "decoding and embedder)") if meta.get("protocol") != "paper" else None,
        Departure("data set", f"{manifest.get('name')} (sha256 {str(manifest.get('sha256'))[:12]})", protocol.data_set),
        Departure("embedder", str(meta.get("embedder")), protocol.embedder)
        if meta.get("embedder") != protocol.embedder else None,
    ]
    for label, system in systems.items():
        model = models[label]
        runs = model.get("runs", meta.get("runs"))
        want = protocol.runs if figures.has_std(system) else protocol.runs_without_std
        if runs != want:
            out.append(Departure(f"runs · {label}", str(runs), f"{want} ({system})"))
        out.append(_decoding(label, system, model, protocol.decoding, figures.has_std(system)))
        if not figures.has_std(system):  # a CLAP baseline: which texts it scores against
            settings = {**(model.get("settings") or {}), **(model.get("user_settings") or {})}
            texts = (f"scene_template {settings.get('scene_template', '{name}')!r}, event_template "
                     f"{settings.get('event_template', '{name}')!r} over the names of taxonomy {meta.get('taxonomy')}")
            out.append(Departure(f"CLAP texts · {label}", texts, protocol.clap_texts))
            if settings.get("crop"):
                out.append(Departure(f"CLAP crop · {label}", str(settings["crop"]), protocol.clap_crop))
    prompts = meta.get("prompts") or {}
    out += [
        Departure("prompt set", f"{prompts.get('version')} (sha256 {str(prompts.get('sha256'))[:12]})", protocol.prompts),
        Departure("WER normaliser", str(meta.get("normalizer")), protocol.normalizer),
    ]
    out += [Departure(d.topic, f"{d.text} ({d.meta} {meta.get(d.meta)})", d.paper) for d in figures.harness_departures]
    return [d for d in out if d is not None]


def _decoding(label: str, system: str, model: dict, wanted: str, generates: bool) -> Departure | None:
    decoding = model.get("decoding")
    if decoding == wanted:
        return None
    paper = f'each model\'s own sampling recipe (decoding = "{wanted}")'
    if decoding is None:
        why = "none needed: it scores classes" if not generates else "its own recipe cannot be set"
        return Departure(f"decoding · {label}", f"no decoding setting ({why})", paper if generates else "none")
    return Departure(f"decoding · {label}", str(decoding), paper)
