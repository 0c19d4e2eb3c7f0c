"""Writing small benchmark sets (manifest + real audio files) for tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_set(root: Path, items: list[dict], header: dict | None = None) -> Path:
    """Write a manifest (header + items) into root and return its path."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "manifest.jsonl"
    lines = [json.dumps({"schema": "sseu-manifest/1", "name": root.name, **(header or {})})]
    lines += [json.dumps(item) for item in items]
    path.write_text("\n".join(lines) + "\n")
    return path


def item_row(item_id: str, speech: str, background: str, onset: float = 0.5, scene: str = "home",
             events: list[dict] | None = None, transcript: str = "the birch canoe slid") -> dict:
    return {
        "id": item_id,
        "speech": {"path": speech, "transcript": transcript, "speaker": "test", "onset": onset},
        "background": {"path": background, "source": "test", "scene": scene,
                       "events": events if events is not None else [{"label": "dog", "onset": 0.1, "offset": 0.9}]},
    }
