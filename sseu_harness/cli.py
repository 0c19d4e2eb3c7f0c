"""``python -m sseu_harness COMMAND`` (also the ``sseu`` console script).

Each command is a module in `sseu_harness/commands/` exposing ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; dropping a module there
adds the command. Errors a user can fix exit with status 2 and one line.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sseu_harness import __version__, commands
from sseu_harness.errors import SSEUError


def _command_modules() -> dict[str, object]:
    found = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        found[getattr(module, "NAME", info.name)] = module
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(prog="sseu", description="SSEU-Bench harness commands")
    parser.add_argument("--version", action="version", version=f"sseu-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = _command_modules()
    for name, module in modules.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except SSEUError as exc:
        print(f"sseu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sseu {args.command}: interrupted", file=sys.stderr)
        return 130
