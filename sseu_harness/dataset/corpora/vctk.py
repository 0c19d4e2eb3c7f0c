"""VCTK 0.92: ``wav48_silence_trimmed/<spk>/<spk>_<utt>_mic{1,2}.flac`` (48 kHz)
with transcripts ``txt/<spk>/<spk>_<utt>.txt``.

An utterance is usable when the chosen microphone's file and a non-empty
transcript exist. Speakers without transcripts (p315 in the release) are
skipped and counted; so are utterances without a transcript or without the
chosen microphone's file. Audio is checked lazily: a header read
(`VCTK.info`) when the build considers an utterance, a full decode
(`VCTK.check`: empty, NaN, silent) when it takes one, so a build decodes only
what it uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sseu_harness.dataset.corpora import AudioInfo, Findings, decode, find_below, probe, require_dir
from sseu_harness.errors import ConfigError

EXPECT = "wav48_silence_trimmed/ and txt/ (VCTK-Corpus-0.92)"


@dataclass(frozen=True)
class Utterance:
    speaker: str
    utt_id: str  # "p225_001"
    relative: str  # audio path relative to the VCTK root
    text_path: Path


class VCTK:
    def __init__(self, root: Path, findings: Findings, settings: dict, mic: str | None = None,
                 min_rate: int = 16000, silence_peak: float = 1e-4) -> None:
        self.root = require_dir(root, "--vctk", EXPECT)
        self.findings = findings
        self.audio_dir_name = settings.get("audio_dir", "wav48_silence_trimmed")
        self.text_dir_name = settings.get("text_dir", "txt")
        self.mic = mic or settings.get("mic", "mic1")
        if self.mic not in ("mic1", "mic2"):
            raise ConfigError(f"--mic {self.mic!r}: VCTK 0.92 has mic1 and mic2")
        self.rates = list(settings.get("rates", [48000]))
        self.channels = list(settings.get("channels", [1]))
        self.min_rate = min_rate
        self.silence_peak = silence_peak
        self._transcripts: dict[str, str | None] = {}
        self._info: dict[str, AudioInfo | None] = {}
        self._checked: dict[str, AudioInfo | None] = {}
        self._check_layout()

    def _check_layout(self) -> None:
        audio, text = self.root / self.audio_dir_name, self.root / self.text_dir_name
        for folder in (audio, text):
            if not folder.is_dir():
                hint = ""
                below = find_below(self.root, folder.name)
                if below is not None:
                    hint = f" (found one under {below}: pass --vctk {below})"
                elif (self.root / "wav48").is_dir():
                    hint = " (this looks like VCTK 0.80 with wav48/; the harness reads VCTK 0.92, FLAC in wav48_silence_trimmed/)"
                raise ConfigError(f"--vctk {self.root}: no {folder.name}/ folder{hint}; pass the folder that holds {EXPECT}")

    def speakers(self) -> dict[str, list[Utterance]]:
        """Speaker -> usable utterances (sorted), for every speaker with transcripts and audio."""
        audio_root, text_root = self.root / self.audio_dir_name, self.root / self.text_dir_name
        found: dict[str, list[Utterance]] = {}
        any_audio = False
        for spk_dir in sorted(p for p in audio_root.iterdir() if p.is_dir()):
            speaker = spk_dir.name
            pattern = re.compile(rf"^{re.escape(speaker)}_(\w+?)_(mic[12])\.flac$")
            mics: dict[str, set[str]] = {"mic1": set(), "mic2": set()}
            for entry in spk_dir.iterdir():
                match = pattern.match(entry.name)
                if match:
                    mics[match.group(2)].add(f"{speaker}_{match.group(1)}")
            if not (mics["mic1"] or mics["mic2"]):
                continue
            any_audio = True
            text_dir = text_root / speaker
            texts = {p.stem for p in text_dir.glob(f"{speaker}_*.txt")} if text_dir.is_dir() else set()
            if not texts:
                self.findings.skip(
                    "speaker_without_transcripts",
                    f"{spk_dir}: speaker {speaker} has no transcripts in {text_dir}; skipped (VCTK 0.92 ships p315 so)",
                )
                continue
            chosen = mics[self.mic]
            no_text = sorted(chosen - texts)
            if no_text:
                self.findings.skip("utterance_without_transcript",
                                   f"{spk_dir / (no_text[0] + '_' + self.mic + '.flac')}: no transcript "
                                   f"{text_dir / (no_text[0] + '.txt')}; skipped", count=len(no_text))
            no_mic = sorted(texts - chosen)
            if no_mic:
                self.findings.skip("utterance_without_mic",
                                   f"{spk_dir / (no_mic[0] + '_' + self.mic + '.flac')}: missing (transcript "
                                   f"{no_mic[0]}.txt has no {self.mic} audio); skipped", count=len(no_mic))
            usable = sorted(chosen & texts)
            if usable:
                found[speaker] = [
                    Utterance(speaker, utt, f"{self.audio_dir_name}/{speaker}/{utt}_{self.mic}.flac", text_dir / f"{utt}.txt")
                    for utt in usable
                ]
        if not any_audio:
            raise ConfigError(
                f"--vctk {self.root}: no <speaker>/<speaker>_<utt>_mic1.flac files under {audio_root}; "
                f"pass the folder that holds {EXPECT}"
            )
        if not found:
            raise ConfigError(f"--vctk {self.root}: no speaker has both {self.mic} audio and transcripts")
        return found

    def transcript(self, utt: Utterance) -> str | None:
        if utt.utt_id not in self._transcripts:
            try:
                text = utt.text_path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                self.findings.skip("unreadable_transcript", f"{utt.text_path}: cannot read it ({exc.strerror}); skipped")
                text = ""
            text = " ".join(text.split())
            if not text:
                self.findings.skip("empty_transcript", f"{utt.text_path}: empty transcript; its utterance is skipped")
            self._transcripts[utt.utt_id] = text or None
        return self._transcripts[utt.utt_id]

    def info(self, utt: Utterance) -> AudioInfo | None:
        """The utterance's header (cheap: no decoding); None when it has no transcript or cannot be read."""
        if utt.utt_id not in self._info:
            info = None
            if self.transcript(utt) is not None:
                info, _ = probe(self.root / utt.relative, self.findings, "VCTK", self.rates, self.channels, self.min_rate)
            self._info[utt.utt_id] = info
        return self._info[utt.utt_id]

    def check(self, utt: Utterance) -> AudioInfo | None:
        """Header and a full decode (empty, NaN, silent), once per utterance; None when unusable (in findings)."""
        if utt.utt_id not in self._checked:
            info = self.info(utt)
            if info is not None and decode(info.path, self.findings, self.silence_peak) is None:
                info = None
            self._checked[utt.utt_id] = info
        return self._checked[utt.utt_id]
