"""The paper's published figures (Table 1, Table 2) and protocol, loaded from `data/paper_figures.toml`.

A model names the paper system it is (``paper_system``: an adapter's class
attribute or the setting); its records are then shown beside these figures
(`sseu_harness/results/paper.py`). Fig. 3 has no numbers in the paper's text
and is not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sseu_harness.errors import ConfigError
from sseu_harness.files.toml_table import read_table
from sseu_harness.spec.tasks import TASKS

PAPER_FIGURES = Path(__file__).resolve().parents[1] / "data" / "paper_figures.toml"
TABLE1_MODE = "independent"  # Table 1 is independent understanding
TABLE2_MODES = ("independent", "joint")  # Table 2's two rows per system
TABLE2_SNR = "avg_mixed"


@dataclass(frozen=True)
class PaperFigure:
    """One published cell: the paper's mean and its std over three runs (None where the paper gives none)."""

    system: str
    table: str  # "1" or "2"
    value: float
    std: float | None


@dataclass(frozen=True)
class PaperProtocol:
    """What the paper did: `--sseu-protocol paper` sets the first four; every report compares against all."""

    runs: int
    runs_without_std: int
    decoding: str
    embedder: str
    data_set: str
    prompts: str
    normalizer: str
    clap_texts: str
    clap_crop: str


@dataclass(frozen=True)
class HarnessDeparture:
    """A rule of this harness the paper leaves open or does otherwise; `meta` is the summary key versioning it."""

    topic: str
    meta: str
    text: str
    paper: str


@dataclass(frozen=True)
class PaperFigures:
    version: str
    systems: tuple[str, ...]
    protocol: PaperProtocol
    harness_departures: tuple[HarnessDeparture, ...]
    table1: dict[tuple[str, str, str], PaperFigure]  # (system, task, snr label or "avg")
    table2: dict[tuple[str, str, str], PaperFigure]  # (system, task, mode) at avg_mixed

    def figure(self, system: str, task: str, snr: str, mode: str) -> PaperFigure | None:
        """The paper's figure for one of our records' slices, or None where the paper has none."""
        if snr == TABLE2_SNR:
            return self.table2.get((system, task, mode))
        if mode == TABLE1_MODE:
            return self.table1.get((system, task, snr))
        return None

    def has_std(self, system: str) -> bool:
        """Whether the paper gives this system a std (its LALMs: three runs), else one run (the CLAP baselines)."""
        return any(f.std is not None for key, f in self.table1.items() if key[0] == system)

    def check_system(self, name: str, where: str) -> str:
        """`name` when it is one of the paper's systems; otherwise a ConfigError listing them."""
        if name not in self.systems:
            raise ConfigError(f"{where}: unknown paper_system {name!r}; the paper's systems are: "
                              + ", ".join(repr(s) for s in self.systems))
        return name


@lru_cache(maxsize=None)
def load_paper_figures(path: Path = PAPER_FIGURES) -> PaperFigures:
    raw = read_table(path, "paper figures",
                     ("version", "source", "systems", "protocol", "harness_departures", "table1", "table2"))
    try:
        systems = tuple(raw["systems"])
        table1 = {(system, task, snr): _figure(system, "1", cell)
                  for task, rows in raw["table1"].items() for system, cells in rows.items()
                  for snr, cell in cells.items()}
        table2 = {(system, task, mode): _figure(system, "2", cell)
                  for system, modes in raw["table2"].items() for mode, cells in modes.items()
                  for task, cell in cells.items()}
        figures = PaperFigures(
            version=raw["version"], systems=systems, protocol=PaperProtocol(**raw["protocol"]),
            harness_departures=tuple(HarnessDeparture(**d) for d in raw["harness_departures"]),
            table1=table1, table2=table2,
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: malformed paper figures ({exc}); compare it with the file in the repository") from None
    for system, task, _ in list(table1) + [(s, t, m) for s, t, m in table2]:
        if system not in systems or task not in TASKS:
            raise ConfigError(f"{path}: unknown system {system!r} or task {task!r}; systems: {', '.join(systems)}")
    return figures


def _figure(system: str, table: str, cell: dict) -> PaperFigure:
    return PaperFigure(system, table, float(cell["value"]), None if cell.get("std") is None else float(cell["std"]))
