"""Adapters used only by the tests, loaded with ``--sseu-model=tests.helpers.adapters:NAME``."""

from __future__ import annotations

import json
import os

import numpy as np

from sseu_harness.adapter import Adapter, ClassScores, Request
from sseu_harness.models.settings import Schema, Setting
from sseu_harness.spec.taxonomy import load_taxonomy


class ScoresOracle(Adapter):
    """A CLAP-shaped reference: class scores from the ground truth, no ASR, independent mode only."""

    name = "scores-oracle"
    listens = False  # a reference: scores from the ground truth
    tasks = ("ASC", "AT")
    modes = ("independent",)
    batch_size = 5

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    def answer(self, requests: list[Request]) -> list[ClassScores]:
        out = []
        for r in requests:
            scenes = np.array([s == r.item.background.scene for s in self.taxonomy.scene_ids], dtype=float)
            events = np.array([e in r.item.background.event_labels for e in self.taxonomy.event_ids], dtype=float)
            out.append(ClassScores(scenes=0.1 + 0.8 * scenes, events=0.2 + 0.7 * events))
        return out


class Batcher(Adapter):
    """Counts the batches and checks their audio: the rate and length the harness promised."""

    name = "batcher"
    sample_rate = 8_000
    batch_size = 4

    def __init__(self, **_: object) -> None:
        self.batches = 0

    def answer(self, requests: list[Request]) -> list[str]:
        self.batches += 1
        for r in requests:
            assert r.audio.dtype == np.float32 and r.audio.ndim == 1
            assert abs(r.audio.size - 8.0 * self.sample_rate) <= 2  # the demo backgrounds last 8 s
        return [f"Transcript: {r.item.speech.transcript}\nScene: home\nEvents: dog" for r in requests]


class Format(Adapter):
    """A model whose name holds 'at': the plugin must warn that -k filters will misfire."""

    name = "format-bot"

    def answer(self, requests: list[Request]) -> list[str]:
        return ["" for _ in requests]


class CallLog(Adapter):
    """Logs every request (process, item, mode, task) to $SSEU_TEST_CALL_LOG, answering like the oracle."""

    name = "calllog"
    batch_size = 8

    def __init__(self, **_: object) -> None:
        from model_adapters.oracle.adapter import OracleAdapter

        if os.environ.get("SSEU_TEST_REFUSE_LOAD"):  # proves that --sseu-rescore never loads a model
            raise RuntimeError("this model must not be loaded")
        self.oracle = OracleAdapter()
        self.log = os.environ["SSEU_TEST_CALL_LOG"]

    def answer(self, requests: list[Request]) -> list[str]:
        import time

        time.sleep(float(os.environ.get("SSEU_TEST_DELAY", "0")))
        with open(self.log, "a", encoding="utf-8") as handle:
            for r in requests:
                handle.write(json.dumps({"pid": os.getpid(), "item": r.item.id, "mode": r.mode, "task": r.task}) + "\n")
        return self.oracle.answer(requests)


def _oracle_answers(requests: list[Request]) -> list[str]:
    from model_adapters.oracle.adapter import OracleAdapter

    return OracleAdapter().answer(requests)


class Flaky(Adapter):
    """Raises for every batch holding an 'unlucky' clip (crc32 of its id % 5 == 0); else answers like the oracle."""

    name = "flaky"
    batch_size = 4

    @staticmethod
    def unlucky(item_id: str) -> bool:
        import zlib

        return zlib.crc32(item_id.encode()) % 5 == 0

    def answer(self, requests: list[Request]) -> list[str]:
        for r in requests:
            if self.unlucky(r.item.id):
                raise RuntimeError(f"GPU on fire while answering {r.item.id}")
        return _oracle_answers(requests)


class Hang(Adapter):
    """Hangs (sleeps 30 s) on one clip; the harness's timeout must give up on it."""

    name = "hang"
    batch_size = 1

    def answer(self, requests: list[Request]) -> list[str]:
        if requests[0].item.id == os.environ.get("SSEU_TEST_HANG_ITEM"):
            import time

            time.sleep(30)
        return _oracle_answers(requests)


class Killer(Adapter):
    """Kills its own process with SIGKILL after answering SSEU_TEST_KILL_AFTER clips, once (a marker file remembers)."""

    name = "killer"
    batch_size = 2

    def __init__(self, **_: object) -> None:
        self.answered = 0

    def answer(self, requests: list[Request]) -> list[str]:
        import signal

        marker = os.environ.get("SSEU_TEST_KILL_MARKER")
        if marker and not os.path.exists(marker) and self.answered >= int(os.environ["SSEU_TEST_KILL_AFTER"]):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        self.answered += len(requests)
        with open(os.environ["SSEU_TEST_CALL_LOG"], "a", encoding="utf-8") as handle:
            handle.writelines(f"{r.item.id}\n" for r in requests)
        return _oracle_answers(requests)


class Leaky(Adapter):
    """Fails with an error message that contains the API key, as careless client libraries do."""

    name = "leaky"

    def answer(self, requests: list[Request]) -> list[str]:
        raise PermissionError(f"401 for key {os.environ['SSEU_TEST_API_KEY']} at https://api.example/v1")


class Babbler(Adapter):
    """Answers megabytes of control characters, then a valid joint answer (as a rambling CoT would)."""

    name = "babbler"

    def answer(self, requests: list[Request]) -> list[str]:
        noise = "\x00\x07\x1b[31m" * 400_000
        return [f"{noise}\nTranscript: {r.item.speech.transcript}\nScene: home\nEvents: dog\n" for r in requests]


class Release(Adapter):
    """The oracle, except on a share $SSEU_TEST_DROP of the clips, where it answers wrongly: an injected regression."""

    name = "release"
    batch_size = 8

    def answer(self, requests: list[Request]) -> list[str]:
        import zlib

        drop = float(os.environ.get("SSEU_TEST_DROP", "0"))
        answers = _oracle_answers(requests)
        for k, r in enumerate(requests):
            if zlib.crc32(r.item.id.encode()) % 100 < 100 * drop:
                answers[k] = {"ASR": "completely different words", "ASC": "Scene: a spaceship",
                              "AT": "Events: none"}.get(r.task, "Transcript: nothing\nScene: a spaceship\nEvents: none")
        return answers


class Decliner(Adapter):
    """Writes the transcript as a model would (digits, "It is"), declines every scene and half of the event lists."""

    name = "decliner"
    modes = ("independent",)
    deterministic = True
    DIGITS = {"Four": "4", "fifty": "50", "Two": "2", "It's": "It is"}

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    @classmethod
    def transcript(cls, reference: str) -> str:
        return " ".join(cls.DIGITS.get(word, word) for word in reference.split())

    @staticmethod
    def declines_events(item_id: str) -> bool:
        return int(item_id[-2:]) % 2 == 0

    def answer(self, requests: list[Request]) -> list[str]:
        out = []
        for r in requests:
            events = "; ".join(self.taxonomy.event_name(e) for e in r.item.background.event_labels) or "none"
            out.append({"ASR": self.transcript(r.item.speech.transcript),
                        "ASC": "Scene: I don't know.",
                        "AT": "Events: unknown" if self.declines_events(r.item.id) else f"Events: {events}"}[r.task])
        return out


HOSTILE_ANSWER = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


class Hostile(Adapter):
    """Per clip (crc32 of its id % 5): 0 raises, 1 answers HTML meant to run in a report page, 2 answers wrongly,
    else like the oracle; at 8 kHz, so a page that renders the clip must use the model's rate."""

    name = "hostile"
    sample_rate = 8_000
    tasks = ("ASR", "ASC", "AT")
    modes = ("independent",)
    batch_size = 4

    @staticmethod
    def kind(item_id: str) -> int:
        import zlib

        return zlib.crc32(item_id.encode()) % 5

    def answer(self, requests: list[Request]) -> list[str]:
        if any(self.kind(r.item.id) == 0 for r in requests):
            raise RuntimeError("GPU on fire <b>loudly</b>")
        truth = _oracle_answers(requests)
        wrong = {"ASR": "completely different words", "ASC": "Scene: metro station", "AT": "Events: dog; blender"}
        return [HOSTILE_ANSWER if self.kind(r.item.id) == 1 else wrong[r.task] if self.kind(r.item.id) == 2 else t
                for r, t in zip(requests, truth)]


class Missing(Adapter):
    """A model whose weights are missing: loading it fails, so no case delivers a record."""

    name = "missing"

    def __init__(self, **_: object) -> None:
        raise FileNotFoundError("no weights at /models/missing: download them first")

    def answer(self, requests: list[Request]) -> list[str]:
        raise AssertionError("never loaded")


class Deaf(Adapter):
    """The bug the hearing gate exists for: fluent answers that never look at the audio (as if it were dropped)."""

    name = "deaf"
    batch_size = 8

    def answer(self, requests: list[Request]) -> list[str]:
        return [{"ASR": "the birch canoe slid on the smooth planks", "ASC": "Scene: home",
                 "AT": "Events: dog; blender"}.get(r.task, "Transcript: the birch canoe\nScene: home\nEvents: dog")
                for r in requests]


class DeafScores(Adapter):
    """A CLAP-shaped model that never looks at the audio: the same class scores for every clip."""

    name = "deaf-scores"
    tasks = ("ASC", "AT")
    modes = ("independent",)

    def __init__(self, **_: object) -> None:
        self.taxonomy = load_taxonomy()

    def answer(self, requests: list[Request]) -> list[ClassScores]:
        scenes = np.linspace(0.1, 0.9, len(self.taxonomy.scene_ids))
        events = np.linspace(0.9, 0.1, len(self.taxonomy.event_ids))
        return [ClassScores(scenes=scenes, events=events) for _ in requests]


class Listener(Adapter):
    """A fake that hears: it answers with the loudness of the clip it got, and nothing from the ground truth."""

    name = "listener"
    batch_size = 8

    def answer(self, requests: list[Request]) -> list[str]:
        out = []
        for r in requests:
            level = f"{10 * np.log10(np.mean(np.square(r.audio, dtype=np.float64)) + 1e-12):.2f}"
            out.append({"ASR": f"level {level}", "ASC": f"Scene: home at {level} dB",
                        "AT": f"Events: dog at {level} dB"}.get(r.task, f"Transcript: level {level}\nScene: home\nEvents: dog"))
        return out


class LazyListener(Listener):
    """A `Listener` built by a function factory: it loads its "weights" (a log line) on the first answer."""

    name = "lazy-listener"

    def __init__(self, log: str, loudness: float = 1.0) -> None:
        self.log, self.loaded = log, False
        self.settings = {"loudness": loudness}
        self.tasks = ("ASR",)  # declared on the instance: a function's adapter decides what it does
        self.modes = ("independent",)
        _log(log, "constructed")

    def answer(self, requests: list[Request]) -> list[str]:
        if not self.loaded:
            self.loaded = True
            _log(self.log, "loaded")
        return super().answer(requests)


def _log(path: str, event: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "event": event}) + "\n")


def make_listener(loudness: float = 1.0) -> Adapter:
    """A plain function factory (``--sseu-model=tests.helpers.adapters:make_listener``): called once per process."""
    log = os.environ["SSEU_TEST_CALL_LOG"]
    _log(log, "factory")
    return LazyListener(log, loudness)


def make_nothing() -> object:
    """A function factory that returns something else than an adapter."""
    return "not an adapter"


class PaperQwen(Adapter):
    """Stands in for the paper's Qwen2-Audio-Instruct: answers like the oracle (WER 0, mACC and mAP 100), so our
    figures are known, and declares a ``decoding`` setting for ``--sseu-protocol paper`` to set."""

    name = "paper-qwen"
    paper_system = "Qwen2-Audio-Instruct"
    batch_size = 26
    SETTINGS = Schema(decoding=Setting("str", "greedy", choices=("greedy", "model")))

    def __init__(self, **settings: object) -> None:
        from model_adapters.oracle.adapter import OracleAdapter

        self.values = self.SETTINGS.parse(self.name, settings)
        self.oracle = OracleAdapter()

    def answer(self, requests: list[Request]) -> list[str]:
        return self.oracle.answer(requests)
