"""One configuration check for the regression gate and `sseu merge`: the field that differs is named."""

from __future__ import annotations

import copy
import re

import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.results.compat import check_same_config, config_difference

META = {
    "harness_version": "0.1.0",
    "manifest": {"name": "sseu-demo", "path": "/a/manifest.jsonl", "sha256": "a" * 64, "items": 26},
    "prompts": {"version": "sseu-prompts-1", "sha256": "b" * 64},
    "mixer": "sseu-mix-2",
    "normalizer": "whisper-en",
    "parser": "sseu-parse-1",
    "taxonomy": "sseu-taxonomy-1",
    "embedder": "minilm",
    "seeds": [0, 1, 2],
    "runs": 3,
    "task_snrs": {"ASR": ["snr_0"]},
}


def _with(path: tuple[str, ...], value):
    meta = copy.deepcopy(META)
    target = meta
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return meta


@pytest.mark.parametrize("path, name", [
    (("manifest", "sha256"), "manifest"),
    (("prompts", "sha256"), "prompt set"),
    (("mixer",), "mixer (level rule)"),
    (("normalizer",), "normaliser"),
    (("parser",), "parser"),
    (("taxonomy",), "taxonomy"),
    (("embedder",), "embedder"),
])
def test_a_scoring_field_that_differs_is_named_by_both_checks(path, name):
    other = _with(path, "other")
    for same_run in (False, True):
        assert config_difference(META, other, same_run=same_run)[0] == name
    with pytest.raises(ConfigError, match=re.escape(f"baseline b was made with another {name} (other vs ")):
        check_same_config(META, other, "baseline b", "make a new baseline")


def test_a_baseline_may_differ_in_seeds_runs_and_version_but_a_shard_may_not():
    other = _with(("seeds",), [7])
    other.update(runs=1, harness_version="0.0.9")
    assert config_difference(META, other) is None
    assert config_difference(META, other, same_run=True)[0] == "seeds"
    assert config_difference(META, _with(("runs",), 1), same_run=True)[0] == "runs"
    assert config_difference(META, _with(("harness_version",), "0.0.9"), same_run=True)[0] == "harness version"


def test_paths_and_names_of_the_same_content_do_not_matter_and_a_missing_field_does():
    moved = _with(("manifest", "path"), "/elsewhere/manifest.jsonl")
    assert config_difference(META, moved) is None
    old = copy.deepcopy(META)
    del old["mixer"]  # a report from before the mixer was recorded
    with pytest.raises(ConfigError, match=r"another mixer \(level rule\) \(missing vs sseu-mix-2 here\)"):
        check_same_config(META, old, "baseline b", "make a new baseline")
