"""Confidence scores from free-text answers: the paper's eq. 1 (scenes) and eq. 2-3 (events).

LALMs answer in words, not class probabilities, so each answer is embedded and
compared with the embedded display name of every class. Scenes: softmax over
the 6 cosine similarities (eq. 1, plain exp, no temperature). Events: each
predicted event m gets sigmoid(cos) against every class n (eq. 2), and each
class keeps its best match over m (eq. 3, max pooling).

No answer (None, blank, an empty event list) gives an all-zero vector: a wrong
scene (never argmax'd onto a class) and p_n = 0 for every event class, so an
unparsable output is scored, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .embedders.base import Embedder
from .errors import ConfigError
from .taxonomy import Taxonomy


class Scorer:
    """Turns scene and event answers into per-class confidences with one embedder."""

    def __init__(self, embedder: Embedder, taxonomy: Taxonomy) -> None:
        self.embedder = embedder
        self.taxonomy = taxonomy
        names = [s.name for s in taxonomy.scenes] + [e.name for e in taxonomy.events]
        vectors = _unit_rows(embedder.embed(names))
        self._scenes = vectors[: len(taxonomy.scenes)]
        self._events = vectors[len(taxonomy.scenes) :]

    def scene_confidences(self, predicted_scene: str | None) -> np.ndarray:
        """Eq. 1 for one answer: shape (n_scenes,), sums to 1, or all zeros for no answer."""
        return self.scene_confidences_many([predicted_scene])[0]

    def scene_confidences_many(self, predicted_scenes: Sequence[str | None]) -> np.ndarray:
        """Eq. 1 for many answers with one embedder call: shape (len, n_scenes)."""
        answers = [_clean(p) for p in predicted_scenes]
        vectors = self._embed_distinct([a for a in answers if a])
        out = np.zeros((len(answers), len(self._scenes)))
        for row, answer in enumerate(answers):
            if answer:
                weights = np.exp(self._scenes @ vectors[answer])
                out[row] = weights / weights.sum()
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
        vectors = self._embed_distinct([e for events in answers for e in events])
        out = np.zeros((len(answers), len(self._events)))
        for row, events in enumerate(answers):
            if events:
                cosines = np.stack([vectors[e] for e in events]) @ self._events.T  # (M_e, N_e)
                out[row] = (1.0 / (1.0 + np.exp(-cosines))).max(axis=0)
        return out

    def _embed_distinct(self, texts: list[str]) -> dict[str, np.ndarray]:
        distinct = list(dict.fromkeys(texts))
        if not distinct:
            return {}
        return dict(zip(distinct, _unit_rows(self.embedder.embed(distinct))))


def _clean(answer: str | None) -> str:
    return answer.strip() if answer else ""


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float64 unit rows, so a dot product is the cosine of eq. 1-2 whatever the embedder returns."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
