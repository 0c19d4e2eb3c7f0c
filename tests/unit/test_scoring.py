"""Eq. 1-3 of the paper on a fixed-vector test embedder, checked against numpy by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.confidences import Scorer
from sseu_harness.spec.taxonomy import Label, Taxonomy, load_taxonomy

VECTORS = {
    # scene class names and paraphrases near them
    "home": [1.0, 0.0, 0.0],
    "cafe or restaurant": [0.0, 1.0, 0.0],
    "metro station": [0.0, 0.0, 1.0],
    "my living room": [0.9, 0.2, 0.1],
    "a busy cafe": [0.1, 0.9, 0.2],
    "underground train platform": [0.1, 0.1, 0.95],
    # event class names and paraphrases near them
    "dog": [1.0, 0.0, 0.1],
    "cat": [0.2, 1.0, 0.0],
    "metro approaching": [0.0, 0.1, 1.0],
    "barking dog": [0.9, 0.1, 0.1],
    "meowing": [0.3, 0.9, 0.1],
    "train arriving": [0.1, 0.2, 0.9],
}


class FixedEmbedder:
    """Looks texts up in a dict (unknown text: KeyError) and logs every call."""

    name = "test:fixed"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.array([self.vectors[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _label(name: str) -> Label:
    return Label(name.replace(" ", "_"), name, ())


TAXONOMY = Taxonomy(
    version="test",
    scenes=tuple(_label(n) for n in ("home", "cafe or restaurant", "metro station")),
    events=tuple(_label(n) for n in ("dog", "cat", "metro approaching")),
    speech_like=frozenset(),
)


def _cos(a: str, b: str) -> float:
    u, v = np.array(VECTORS[a]), np.array(VECTORS[b])
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


@pytest.fixture
def scorer() -> Scorer:
    return Scorer(FixedEmbedder(VECTORS), TAXONOMY)


def test_class_names_embedded_once_at_construction() -> None:
    embedder = FixedEmbedder(VECTORS)
    scorer = Scorer(embedder, TAXONOMY)
    assert embedder.calls == [["home", "cafe or restaurant", "metro station", "dog", "cat", "metro approaching"]]
    scorer.scene_confidences("a busy cafe")
    scorer.scene_confidences("my living room")
    assert embedder.calls[1:] == [["a busy cafe"], ["my living room"]]


def test_eq1_softmax_of_cosines_by_hand(scorer: Scorer) -> None:
    cosines = np.array([_cos("a busy cafe", s) for s in ("home", "cafe or restaurant", "metro station")])
    expected = np.exp(cosines) / np.exp(cosines).sum()
    got = scorer.scene_confidences("a busy cafe")
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("answer", "scene_id"),
    [("a busy cafe", "cafe_or_restaurant"), ("my living room", "home"), ("underground train platform", "metro_station")],
)
def test_paraphrase_ranked_to_the_right_scene(scorer: Scorer, answer: str, scene_id: str) -> None:
    assert scorer.predicted_scene_id(scorer.scene_confidences(answer)) == scene_id


def test_exact_class_name_scores_highest(scorer: Scorer) -> None:
    assert scorer.predicted_scene_id(scorer.scene_confidences("  metro station ")) == "metro_station"


@pytest.mark.parametrize("answer", [None, "", "   "])
def test_no_scene_answer_gives_zeros_and_no_id(scorer: Scorer, answer: str | None) -> None:
    confidences = scorer.scene_confidences(answer)
    assert confidences.shape == (3,)
    assert not confidences.any()
    assert scorer.predicted_scene_id(confidences) is None


def test_eq2_3_sigmoid_max_pooling_by_hand(scorer: Scorer) -> None:
    predicted = ["barking dog", "meowing"]
    classes = ["dog", "cat", "metro approaching"]
    F = np.array([[1 / (1 + np.exp(-_cos(m, n))) for n in classes] for m in predicted])  # (M_e, N_e)
    got = scorer.event_confidences(predicted)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, F.max(axis=0), rtol=1e-6)
    # dog and cat are matched by a paraphrase, metro approaching only weakly
    assert got[2] < min(got[0], got[1])


def test_event_paraphrases_ranked_to_the_right_class(scorer: Scorer) -> None:
    p = scorer.event_confidences(["train arriving"])
    assert int(np.argmax(p)) == 2


@pytest.mark.parametrize("events", [None, [], ["", "  "]])
def test_no_events_give_zeros(scorer: Scorer, events: list[str] | None) -> None:
    got = scorer.event_confidences(events)
    assert got.shape == (3,)
    assert not got.any()


def test_events_as_plain_string_are_refused(scorer: Scorer) -> None:
    with pytest.raises(ConfigError, match="plain string"):
        scorer.event_confidences("dog; cat")  # type: ignore[arg-type]


def test_batch_forms_one_embed_call_and_same_numbers() -> None:
    embedder = FixedEmbedder(VECTORS)
    scorer = Scorer(embedder, TAXONOMY)
    scenes = ["a busy cafe", None, "my living room", "a busy cafe", ""]
    events = [["barking dog"], None, ["meowing", "barking dog"], [], ["train arriving", "meowing"]]
    before = len(embedder.calls)
    scene_rows = scorer.scene_confidences_many(scenes)
    event_rows = scorer.event_confidences_many(events)
    assert embedder.calls[before:] == [["a busy cafe", "my living room"], ["barking dog", "meowing", "train arriving"]]
    assert scene_rows.shape == (5, 3) and event_rows.shape == (5, 3)
    for row, answer in zip(scene_rows, scenes):
        np.testing.assert_array_equal(row, scorer.scene_confidences(answer))
    for row, answer in zip(event_rows, events):
        np.testing.assert_array_equal(row, scorer.event_confidences(answer))


def test_real_taxonomy_shapes() -> None:
    taxonomy = load_taxonomy()
    rng = np.random.default_rng(0)
    names = [s.name for s in taxonomy.scenes] + [e.name for e in taxonomy.events]
    vectors = {n: list(rng.standard_normal(8)) for n in names}
    vectors["busy street"] = vectors["city center"]
    vectors["woof"] = vectors["dog"]
    scorer = Scorer(FixedEmbedder(vectors), taxonomy)
    scene = scorer.scene_confidences("busy street")
    assert scene.shape == (6,) and scorer.predicted_scene_id(scene) == "city_center"
    events = scorer.event_confidences(["woof"])
    assert events.shape == (18,) and taxonomy.event_ids[int(np.argmax(events))] == "dog"
    assert events.max() == pytest.approx(1 / (1 + np.exp(-1.0)))


def test_ground_truth_as_answer_is_the_upper_bound_with_minilm() -> None:
    """The paper's sanity check: the true labels as answers give mACC 100 and mAP 100."""
    from sseu_harness.scoring.embedders import MiniLMEmbedder
    from sseu_harness.scoring.metrics import mean_accuracy, mean_average_precision

    taxonomy = load_taxonomy()
    scorer = Scorer(MiniLMEmbedder(), taxonomy)
    scenes = [s.name for s in taxonomy.scenes]
    predicted = [scorer.predicted_scene_id(row) for row in scorer.scene_confidences_many(scenes)]
    assert mean_accuracy(taxonomy.scene_ids, predicted) == 100.0

    rng = np.random.default_rng(1)
    truth = (rng.random((30, len(taxonomy.events))) < 0.2).astype(int)
    answers = [[taxonomy.events[k].name for k in np.flatnonzero(row)] for row in truth]
    scores = scorer.event_confidences_many(answers)
    assert mean_average_precision(truth, scores) == pytest.approx(100.0)


def test_a_clip_scores_exactly_the_max_of_its_strings_with_minilm() -> None:
    """Issue 11.1: ['vacuum cleaner'] and ['running water', 'vacuum cleaner'] tie on blender, bit for bit."""
    from sseu_harness.scoring.embedders import MiniLMEmbedder

    taxonomy = load_taxonomy()
    scorer = Scorer(MiniLMEmbedder(), taxonomy)
    a = scorer.event_confidences(["running water"])
    b = scorer.event_confidences(["vacuum cleaner"])
    pair, single = scorer.event_confidences_many([["running water", "vacuum cleaner"], ["vacuum cleaner"]])
    assert np.array_equal(pair, np.maximum(a, b))  # bit for bit, every class
    blender = taxonomy.event_ids.index("blender")
    assert pair[blender] == single[blender] == b[blender]
    # and the value is eq. 2 (checked to float precision by hand)
    vectors = MiniLMEmbedder().embed(["vacuum cleaner", "blender"]).astype(np.float64)
    cos = vectors[0] @ vectors[1] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1])
    assert b[blender] == pytest.approx(1 / (1 + np.exp(-cos)), rel=1e-12)


def test_a_strings_row_has_the_same_bits_alone_and_in_any_batch() -> None:
    """F of a string never depends on the strings scored beside it (a matrix product's shape did)."""
    taxonomy = load_taxonomy()
    rng = np.random.default_rng(7)
    names = [s.name for s in taxonomy.scenes] + [e.name for e in taxonomy.events]
    answers = [f"answer {k}" for k in range(40)]
    vectors = {t: list(rng.standard_normal(384).astype(np.float32)) for t in names + answers}
    scorer = Scorer(FixedEmbedder(vectors), taxonomy)
    alone = {t: scorer.event_confidences([t]) for t in answers}
    scenes_alone = {t: scorer.scene_confidences(t) for t in answers}
    for size in (2, 3, 7, 16, 40):
        lists = [list(rng.choice(answers, size=rng.integers(1, size + 1), replace=False)) for _ in range(12)]
        for events, row in zip(lists, scorer.event_confidences_many(lists)):
            assert np.array_equal(row, np.max([alone[e] for e in events], axis=0))
        flat = [t for events in lists for t in events]
        for text, row in zip(flat, scorer.scene_confidences_many(flat)):
            assert np.array_equal(row, scenes_alone[text])


def test_tied_best_strings_tie_in_average_precision() -> None:
    """Two positives matched by the same best string share one score, so AP treats them as a tie."""
    from sklearn.metrics import average_precision_score

    scorer = Scorer(FixedEmbedder(VECTORS), TAXONOMY)
    rows = scorer.event_confidences_many([["barking dog"], ["meowing", "barking dog"], ["train arriving"]])
    assert rows[0, 0] == rows[1, 0]
    truth = np.array([1, 0, 0])
    # a tie puts both clips at one threshold: precision 1/2 at recall 1
    assert average_precision_score(truth, rows[:, 0]) == pytest.approx(0.5)
