"""Let the harness's modules import on Python 3.10, where `tomllib` does not exist yet.

The model server runs inside a model's own environment (Kimi-Audio and
LTU-AS pin Python 3.10). Our modules import `tomllib` at the top; on 3.10 the
`tomli` backport stands in for it (``pip install tomli``), and without it a
stand-in module fails only when a TOML file is actually read.
"""

from __future__ import annotations

import sys
import types


def ensure_tomllib() -> None:
    try:
        import tomllib  # noqa: F401
        return
    except ImportError:
        pass
    try:
        import tomli
    except ImportError:
        stub = types.ModuleType("tomllib")

        class TOMLDecodeError(ValueError):
            pass

        def _missing(*_args, **_kwargs):
            raise ImportError("reading TOML on this Python needs the tomli backport: pip install tomli")

        stub.TOMLDecodeError = TOMLDecodeError  # type: ignore[attr-defined]
        stub.loads = _missing  # type: ignore[attr-defined]
        stub.load = _missing  # type: ignore[attr-defined]
        sys.modules["tomllib"] = stub
        return
    sys.modules["tomllib"] = tomli
