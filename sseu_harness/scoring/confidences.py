"""Confidence scores from free-text answers: the paper's eq. 1 (scenes) and eq. 2-3 (events).

LALMs answer in words, not class probabilities, so each answer is embedded and
compared with the embedded display name of every class. Scenes: softmax over
the 6 cosine similarities (eq. 1, plain exp, no temperature). Events: each
predicted event m gets sigmoid(cos) against every class n (eq. 2), and each
class keeps its best match over m (eq. 3, max pooling).

No answer (None, blank, an empty event list) gives an all-zero vector: a wrong
scene (never argmax'd onto a class) and p_n = 0 for every event class, so an
unparsable output is scored, never dropped.

Every number is a function of one answer string alone, bit for bit: each
distinct string's row (its 6 scene or 18 event confidences) is computed once,
with correctly rounded dot products (`math.fsum`) and scalar exp, never with a
matrix product whose shape (and so summation order) depends on what else is
scored beside it. A clip's p_n is then exactly the max of its strings' rows,
so two clips whose best-matching string is the same tie exactly, and AP ranks
them as a tie (a matrix product once broke such ties in the last bits,
ranking one-event answers above multi-event ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sseu_harness.errors import ConfigError
from sseu_harness.scoring.embedders.base import Embedder
from sseu_harness.spec.taxonomy import Taxonomy


class Scorer:
    """Turns scene and event answers into per-class confidences with one embedder."""

    def __init__(self, embedder: Embedder, taxonomy: Taxonomy) -> None:
        self.embedder = embedder
        self.taxonomy = taxonomy
        names = [s.name for s in taxonomy.scenes] + [e.name for e in taxonomy.events]
        vectors = [_unit(v) for v in np.asarray(embedder.embed(names))]
        self._scenes = vectors[: len(taxonomy.scenes)]
        self._events = vectors[len(taxonomy.scenes) :]

    def scene_confidences(self, predicted_scene: str | None) -> np.ndarray:
        """Eq. 1 for one answer: shape (n_scenes,), sums to 1, or all zeros for no answer."""
        return self.scene_confidences_many([predicted_scene])[0]

    def scene_confidences_many(self, predicted_scenes: Sequence[str | None]) -> np.ndarray:
        """Eq. 1 for many answers with one embedder call: shape (len, n_scenes)."""
        answers = [_clean(p) for p in predicted_scenes]
        rows = {text: _softmax(_cosines(vector, self._scenes))
                for text, vector in self._embed_distinct([a for a in answers if a]).items()}
        out = np.zeros((len(answers), len(self._scenes)))
        for row, answer in enumerate(answers):
            if answer:
                out[row] = rows[answer]
        return out

    def predicted_scene_id(self, confidences: np.ndarray) -> str | None:
        """The argmax scene id, or None for the all-zero "no answer" vector."""
        if not np.any(confidences):
            return None
        return self.taxonomy.scenes[int(np.argmax(confidences))].id

    def event_confidences(self, predicted_events: Sequence[str] | None) -> np.ndarray:
        """Eq. 2-3 for one answer: shape (n_events,) in (0, 1), or all zeros for no events."""
        return self.event_confidences_many([predicted_events])[0]

    def event_confidences_many(self, predicted_events: Sequence[Sequence[str] | None]) -> np.ndarray:
        """Eq. 2-3 for many answers with one embedder call: shape (len, n_events)."""
        if any(isinstance(events, str) for events in predicted_events):
            raise ConfigError("predicted events must be lists of event names, got a plain string; split the answer first")
        answers = [[e for e in map(_clean, events or ()) if e] for events in predicted_events]
        # F[m, n] of eq. 2, once per distinct string: its row never depends on the other strings
        F = {text: np.array([_sigmoid(c) for c in _cosines(vector, self._events)])
             for text, vector in self._embed_distinct([e for events in answers for e in events]).items()}
        out = np.zeros((len(answers), len(self._events)))
        for row, events in enumerate(answers):
            if events:
                out[row] = np.max([F[e] for e in events], axis=0)  # eq. 3: max is exact
        return out

    def _embed_distinct(self, texts: list[str]) -> dict[str, np.ndarray]:
        distinct = list(dict.fromkeys(texts))
        if not distinct:
            return {}
        return {text: _unit(v) for text, v in zip(distinct, np.asarray(self.embedder.embed(distinct)))}


def _clean(answer: str | None) -> str:
    return answer.strip() if answer else ""


def _unit(vector: np.ndarray) -> np.ndarray:
    """A float64 unit vector (its own copy), so a dot product is the cosine of eq. 1-2 whatever the embedder returns."""
    vector = np.array(vector, dtype=np.float64)
    return vector / math.sqrt(math.fsum(vector * vector))


def _cosines(vector: np.ndarray, classes: list[np.ndarray]) -> list[float]:
    """Correctly rounded dot products: the same bits whatever the memory layout or batch."""
    return [math.fsum(vector * c) for c in classes]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _softmax(cosines: list[float]) -> list[float]:
    weights = [math.exp(c) for c in cosines]  # eq. 1: plain exp, no temperature
    total = math.fsum(weights)
    return [w / total for w in weights]
