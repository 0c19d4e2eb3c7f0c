"""Nothing the harness reads back is unpickled: stores and caches hold JSON, text and raw float32 bytes."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNSAFE = re.compile(r"\bpickle\b|\bdill\b|allow_pickle\s*=\s*True|torch\.load\((?![^)]*weights_only\s*=\s*True)")


def test_no_code_path_unpickles():
    offenders = []
    for folder in ("sseu_harness", "plugins", "model_adapters"):
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                code = line.split("#", 1)[0]
                if UNSAFE.search(code):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
