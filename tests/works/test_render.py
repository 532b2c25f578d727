"""MIDI renders with a real General MIDI soundfont from PyPI: stereo, 44.1 kHz, never clipped,
the same bytes every time, and rendered again only as its provenance records."""

import io
import shutil
from typing import Any

import numpy as np
import pytest
import soundfile
from symusic.core import NoteTick, ScoreTick, TempoTick, TrackTick

from ledgerline.errors import LedgerlineError
from ledgerline.works.render import midi_render, renderer

ORGAN, PIANO = 19, 0


def _midi(notes: list[tuple[int, float, float]], program: int = ORGAN, tracks: int = 1) -> bytes:
    """Notes as (pitch, start beat, beats) at 120 qpm, copied onto ``tracks`` tracks."""
    score = ScoreTick(480)
    score.tempos.append(TempoTick(0, qpm=120))
    for _ in range(tracks):
        track = TrackTick("voice", program, False)
        for pitch, start, beats in notes:
            track.notes.append(NoteTick(round(start * 480), round(beats * 480), pitch, 100))
        score.tracks.append(track)
    return bytes(score.dumps_midi())


def _read(wav: bytes) -> tuple[np.ndarray, Any]:
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    return audio, (rate, soundfile.info(io.BytesIO(wav)).subtype)


def test_a_note_sounds_at_its_pitch_in_stereo_without_clipping(settings: Any) -> None:
    wav = midi_render(_midi([(69, 0, 2)], PIANO))
    audio, (rate, subtype) = _read(wav)
    assert (rate, audio.shape[1], subtype) == (44100, 2, "PCM_16")
    peak = int(np.abs(audio.astype(np.int32)).max())
    assert 0.85 * 32767 < peak < 0.9 * 32767  # normalised to -1 dBFS: loud, with headroom
    mono = audio.mean(1)[:44100].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    assert abs(np.argmax(spectrum) * 44100 / len(mono) - 440.0) < 3  # A4, not the sines' buzz
    assert 1.0 < len(audio) / 44100 < 1.0 + 5.5  # one second of note, then its release tail


def test_four_loud_voices_are_normalised_not_clipped(settings: Any) -> None:
    chord = [(pitch, 0, 4) for pitch in (48, 55, 64, 72)]
    audio, _ = _read(midi_render(_midi(chord, ORGAN, tracks=4)))
    assert int(np.abs(audio.astype(np.int32)).max()) < 32767
    assert float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) > 0.05 * 32767  # audible, not silence


def test_the_same_midi_renders_to_the_same_bytes(settings: Any) -> None:
    midi = _midi([(60, 0, 1), (64, 1, 1), (67, 2, 2)])
    assert midi_render(midi) == midi_render(midi)


def test_the_manifest_names_the_renderer_and_the_soundfont_by_hash(settings: Any) -> None:
    named = renderer()
    assert named["name"] == "tinysoundfont" and named["soundfont"] == "TimGM6mb.sf2"
    assert len(named["soundfont_sha256"]) == 64 and named["rate"] == 44100


def test_a_work_renders_again_only_with_what_its_provenance_names(settings: Any) -> None:
    midi = _midi([(60, 0, 1)])
    recorded = renderer()
    assert midi_render(midi, recorded) == midi_render(midi)
    with pytest.raises(LedgerlineError, match="soundfont_sha256"):
        midi_render(midi, {**recorded, "soundfont_sha256": "0" * 64})
    with pytest.raises(LedgerlineError, match="no longer renders"):
        midi_render(midi, {"name": "pretty_midi.synthesize"})


def test_a_damaged_midi_is_refused_with_the_reason(settings: Any) -> None:
    with pytest.raises(LedgerlineError, match="could not be read"):
        midi_render(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\xff\xff\xff\xff")


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="FluidSynth is not installed here")
def test_fluidsynth_stays_an_option_where_it_is_installed(settings: Any) -> None:
    settings.LEDGERLINE_RENDERER = "fluidsynth"
    named = renderer()
    assert named["name"] == "fluidsynth" and "FluidSynth" in named["version"]
    audio, (rate, _) = _read(midi_render(_midi([(69, 0, 2)])))
    assert rate == 44100 and audio.shape[1] == 2 and int(np.abs(audio.astype(np.int32)).max()) < 32767


def test_an_unknown_renderer_is_named(settings: Any) -> None:
    settings.LEDGERLINE_RENDERER = "timidity"
    with pytest.raises(LedgerlineError, match="tinysoundfont, fluidsynth"):
        renderer()
