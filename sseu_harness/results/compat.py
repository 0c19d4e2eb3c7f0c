"""One configuration check for every place that compares or joins reports.

The regression gate (a baseline against this session) and `sseu merge` (shards
into one report) both ask: were these numbers made by the same benchmark and
the same scoring? Anything that changes which clips are heard, how they are
mixed, or how an answer becomes a score must match; the check names the first
field that differs. Joining shards also needs the same seeds, runs and harness
version (one report must be one run); a baseline may differ in those.
"""

from __future__ import annotations

from sseu_harness.errors import ConfigError

# (meta key, name in messages): what makes two reports' numbers comparable at all
SCORING = (
    ("manifest", "manifest"),
    ("prompts", "prompt set"),
    ("mixer", "mixer (level rule)"),
    ("normalizer", "normaliser"),
    ("parser", "parser"),
    ("taxonomy", "taxonomy"),
    ("embedder", "embedder"),
)
# ... and what makes them one run, for joining shards
RUN = (
    ("seeds", "seeds"),
    ("runs", "runs"),
    ("protocol", "protocol"),
    ("harness_version", "harness version"),
    ("task_snrs", "SNR grid"),
)


def config_difference(ours: dict, theirs: dict, *, same_run: bool = False) -> tuple[str, object, object] | None:
    """(field name, their value, our value) of the first field that differs, or None."""
    for key, name in SCORING + (RUN if same_run else ()):
        mine, other = _value(ours, key), _value(theirs, key)
        if mine != other:
            return name, other, mine
    return None


def check_same_config(ours: dict, theirs: dict, what: str, fix: str, *, same_run: bool = False) -> None:
    """Raise a ConfigError naming the field where `theirs` (described by `what`) differs from `ours`."""
    difference = config_difference(ours, theirs, same_run=same_run)
    if difference is not None:
        name, other, mine = difference
        raise ConfigError(f"{what} was made with another {name} ({_show(other)} vs {_show(mine)} here); {fix}")


def _value(meta: dict, key: str) -> object:
    value = meta.get(key)
    if key in ("manifest", "prompts"):  # their content, not their path or name
        return (value or {}).get("sha256")
    return value


def _show(value: object) -> str:
    text = "missing" if value is None else str(value)
    return text[:16] + "..." if len(text) > 19 else text
