"""MIDI rendered to WAV with a General MIDI soundfont.

By default TinySoundFont (PyPI's `tinysoundfont`, no system package) plays the General MIDI
soundfont that pretty_midi ships (TimGM6mb), or LEDGERLINE_SOUNDFONT. Where FluidSynth is
installed, LEDGERLINE_RENDERER=fluidsynth uses it instead. Either way the WAV is 16-bit stereo
at 44.1 kHz, peak-normalised to -1 dBFS so nothing clips, and the same MIDI renders to the same
bytes with the same renderer and soundfont. The manifest names both (the font by its SHA-256),
and a work is rendered again with what its provenance names, so regeneration compares byte for
byte.
"""

import io
import shutil
import subprocess
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from django.conf import settings

from ledgerline.errors import LedgerlineError
from ledgerline.provenance.hashing import sha256_file

RATE = 44100
PEAK_DBFS = -1.0  # headroom left above the loudest sample
MAX_SECONDS = 20 * 60  # a longer piece is refused: its float buffer alone would pass 400 MB
TAIL_SECONDS = 5.0  # notes ring on after their release for at most this long
RENDERERS = ("tinysoundfont", "fluidsynth")
DRUMS = 9  # General MIDI's percussion channel


def soundfont() -> Path:
    if settings.LEDGERLINE_SOUNDFONT:
        return Path(settings.LEDGERLINE_SOUNDFONT)
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def renderer(name: str | None = None) -> dict[str, Any]:
    """What renders MIDI here (``name``, by default LEDGERLINE_RENDERER): part of every work's manifest."""
    name = name or settings.LEDGERLINE_RENDERER
    if name not in RENDERERS:
        raise LedgerlineError(f"LEDGERLINE_RENDERER is {name!r}; use one of {', '.join(RENDERERS)}.")
    font = soundfont()
    if not font.is_file():
        raise LedgerlineError(f"The soundfont {font} does not exist (LEDGERLINE_SOUNDFONT).")
    return {
        "name": name,
        "version": _fluidsynth_version(_fluidsynth()) if name == "fluidsynth" else version("tinysoundfont"),
        "rate": RATE,
        "channels": 2,
        "peak_dbfs": PEAK_DBFS,
        "soundfont": font.name,
        "soundfont_sha256": _font_sha256(str(font)),
    }


def midi_render(midi: bytes, recorded: dict[str, Any] | None = None) -> bytes:
    """16-bit stereo WAV at 44.1 kHz, by this host's renderer, or by the one ``recorded`` names
    (a work's provenance), which must then be the same program, version and soundfont here."""
    here = renderer() if recorded is None else _as_recorded(recorded)
    return _wav(_fluidsynth_render(midi) if here["name"] == "fluidsynth" else _tinysoundfont_render(midi))


def _as_recorded(recorded: dict[str, Any]) -> dict[str, Any]:
    name = recorded.get("name")
    if name not in RENDERERS:
        raise LedgerlineError(f"This work was rendered by {name!r}, which this platform no longer renders with.")
    here = renderer(name)
    for key in ("version", "rate", "peak_dbfs", "soundfont_sha256"):
        if recorded.get(key) != here[key]:
            raise LedgerlineError(
                f"This work was rendered with {name} {key} {recorded.get(key)!r}; this host has {here[key]!r}."
            )
    return here


def _tinysoundfont_render(midi: bytes) -> np.ndarray:
    """Every note, controller and pitch bend sent at its own sample, the soundfont's voices
    mixed in float; then the release tail until it falls silent."""
    import tinysoundfont
    from symusic.core import ScoreSecond

    try:
        score = ScoreSecond.from_midi(midi)
    except Exception as exc:  # symusic raises RuntimeError and others on damaged files
        raise LedgerlineError(f"The MIDI could not be read to render it: {exc}") from None
    if score.end() > MAX_SECONDS:
        raise LedgerlineError(f"The piece lasts {score.end() / 60:.0f} minutes; at most {MAX_SECONDS // 60} render.")
    synth = tinysoundfont.Synth(samplerate=RATE)
    font = synth.sfload(str(soundfont()))
    events: list[tuple[int, int, int, str, int, int]] = []  # (sample, order, channel, kind, a, b)
    channels: dict[int, int] = {}  # program -> channel: tracks of one instrument share a channel
    for track in score.tracks:
        if track.is_drum:
            channel = DRUMS
        else:
            free = [c for c in range(16) if c != DRUMS]
            channel = channels.setdefault(track.program, free[len(channels) % len(free)])
        _program(synth, font, channel, track.program, track.is_drum)
        for control in track.controls:
            events.append((round(control.time * RATE), 0, channel, "cc", control.number, control.value))
        for bend in track.pitch_bends:
            events.append((round(bend.time * RATE), 0, channel, "bend", int(bend.value) + 8192, 0))
        for note in track.notes:
            start = round(note.time * RATE)
            events.append((start, 2, channel, "on", note.pitch, note.velocity))
            events.append((max(start + 1, round((note.time + note.duration) * RATE)), 1, channel, "off", note.pitch, 0))
    events.sort()
    blocks, now = [], 0
    for at, _, channel, kind, a, b in events:
        if at > now:
            blocks.append(_generate(synth, at - now))
            now = at
        if kind == "on":
            synth.noteon(channel, a, max(1, min(b, 127)))
        elif kind == "off":
            synth.noteoff(channel, a)
        elif kind == "cc":
            synth.control_change(channel, a, max(0, min(b, 127)))
        else:
            synth.pitchbend(channel, max(0, min(a, 16383)))
    for _ in range(int(TAIL_SECONDS * 10)):
        block = _generate(synth, RATE // 10)
        blocks.append(block)
        if not np.any(np.abs(block) > 1e-5):
            break
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)


def _program(synth: Any, font: int, channel: int, program: int, drums: bool) -> None:
    try:
        synth.program_select(channel, font, 0, program, is_drums=drums)
    except RuntimeError:  # the font lacks this preset: its first one rather than silence
        synth.program_select(channel, font, 0, 0, is_drums=drums)


def _generate(synth: Any, frames: int) -> np.ndarray:
    return np.frombuffer(synth.generate(frames), dtype=np.float32).reshape(-1, 2).copy()


def _fluidsynth() -> str:
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise LedgerlineError("LEDGERLINE_RENDERER is fluidsynth, but FluidSynth is not installed here.")
    return binary


def _fluidsynth_render(midi: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        source.write_bytes(midi)
        command = [_fluidsynth(), "-ni", "-q", "-F", str(target), "-r", str(RATE), "-O", "float", "-T", "wav"]
        result = subprocess.run([*command, str(soundfont()), str(source)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not target.is_file() or target.stat().st_size <= 44:
            raise LedgerlineError(f"FluidSynth could not render the MIDI: {result.stderr.strip()[:300]}")
        audio, _ = soundfile.read(target, dtype="float32", always_2d=True)
    return audio


def _wav(audio: np.ndarray) -> bytes:
    """Peak-normalised to PEAK_DBFS and rounded to 16 bits: loud, and never clipped."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio = audio * (10 ** (PEAK_DBFS / 20) / peak)
    pcm = np.round(audio * 32767).astype(np.int16)
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@cache  # asked once per process, not once per work
def _fluidsynth_version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return result.stdout.split("\n")[0].strip()


@cache
def _font_sha256(path: str) -> str:
    return sha256_file(Path(path))
