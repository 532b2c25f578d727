"""MIDI rendered to WAV: FluidSynth with a General MIDI soundfont (Debian's FluidR3 when
installed, pretty_midi's bundled TimGM6mb otherwise); without FluidSynth, pretty_midi's
sine synthesis. The same MIDI renders to the same bytes with the same renderer, which the
manifest names, so a work can be regenerated and compared byte for byte."""

import io
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from django.conf import settings

from ledgerline.errors import LedgerlineError
from ledgerline.provenance.hashing import sha256_file

RATE = 44100
GM_SOUNDFONTS = [Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2")]


def soundfont() -> Path:
    if settings.LEDGERLINE_SOUNDFONT:
        return Path(settings.LEDGERLINE_SOUNDFONT)
    for path in GM_SOUNDFONTS:
        if path.is_file():
            return path.resolve()
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def renderer() -> dict[str, Any]:
    """What renders MIDI here: part of every work's manifest."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        import pretty_midi

        return {"name": "pretty_midi.synthesize", "version": pretty_midi.__version__, "rate": RATE}
    font = soundfont()
    return {
        "name": "fluidsynth",
        "version": _version(binary),
        "rate": RATE,
        "soundfont": font.name,
        "soundfont_sha256": _font_sha256(str(font)),
    }


@cache  # asked once per process, not once per work
def _version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return result.stdout.split("\n")[0].strip()


@cache
def _font_sha256(path: str) -> str:
    return sha256_file(Path(path))


def midi_render(midi: bytes) -> bytes:
    """16-bit stereo (FluidSynth) or mono (sines) WAV at 44.1 kHz."""
    binary = shutil.which("fluidsynth")
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        source.write_bytes(midi)
        if binary is None:
            return _sines(source)
        result = subprocess.run(
            [
                binary,
                "-ni",
                "-q",
                "-F",
                str(target),
                "-r",
                str(RATE),
                "-O",
                "s16",
                "-T",
                "wav",
                str(soundfont()),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0 or not target.is_file() or target.stat().st_size <= 44:
            raise LedgerlineError(f"FluidSynth could not render the MIDI: {result.stderr.strip()[:300]}")
        return target.read_bytes()


def _sines(source: Path) -> bytes:
    import pretty_midi

    audio = pretty_midi.PrettyMIDI(str(source)).synthesize(fs=RATE)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    pcm = (audio / peak * 0.8) if peak > 0 else audio
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm.astype(np.float32), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
