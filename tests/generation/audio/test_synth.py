"""Each synthesis makes the pitch it was asked for, under the envelope it was given."""

import numpy as np
import pytest

from generation.audio.features import f0_pyin, magnitudes
from generation.audio.synth import SAMPLE_RATE, Envelope, Synth, SynthError, envelopes, synthesise

PITCHED = [
    Synth(kind="am", freq=220.0, mod_freq=6.0, mod_depth=0.5),
    Synth(kind="am", freq=523.25, mod_freq=3.0, mod_depth=0.9),
    Synth(kind="fm", freq=110.0, ratio=1.0, index=3.0),
    Synth(kind="fm", freq=440.0, ratio=2.0, index=0.8),  # odd harmonics; a larger index cancels the fundamental
    Synth(kind="additive", freq=65.41, harmonics=12, rolloff=1.0),
    Synth(kind="additive", freq=987.77, harmonics=4, rolloff=2.0),
]


@pytest.mark.parametrize("spec", PITCHED, ids=lambda s: f"{s.kind}-{s.freq}")
def test_each_synth_sounds_the_pitch_asked_for(spec: Synth) -> None:
    audio = synthesise([spec])
    track = f0_pyin(audio)[0]
    voiced = track[np.isfinite(track)]
    assert len(voiced) > len(track) // 2
    assert abs(np.median(voiced) / spec.freq - 1) < 0.01


def test_subtractive_noise_lies_in_its_band() -> None:
    audio = synthesise([Synth(kind="subtractive", low=1000.0, high=1500.0, envelope=Envelope(0.0, 0.0, 1.0, 0.0))])
    power = magnitudes(audio)[0].mean(axis=0) ** 2
    freqs = np.fft.rfftfreq(2048, 1 / SAMPLE_RATE)
    inside = power[(freqs >= 900) & (freqs <= 1650)].sum()
    assert inside / power.sum() > 0.9


def test_subtractive_noise_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    a, b, c = synthesise(
        [Synth(kind="subtractive", seed=1), Synth(kind="subtractive", seed=1), Synth(kind="subtractive", seed=2)]
    )
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_the_adsr_rises_decays_holds_and_releases() -> None:
    env = Envelope(attack=0.1, decay=0.2, sustain=0.5, release=0.3)
    curve = envelopes([env])[0]
    at = lambda seconds: curve[int(seconds * SAMPLE_RATE)]  # noqa: E731
    assert curve[0] == 0
    assert at(0.05) == pytest.approx(0.5, abs=1e-3)
    assert curve.max() == pytest.approx(1.0, abs=1e-3)
    assert int(curve.argmax()) == pytest.approx(0.1 * SAMPLE_RATE, abs=2)
    assert at(0.2) == pytest.approx(0.75, abs=1e-3)
    assert at(0.35) == pytest.approx(0.5) and at(0.69) == pytest.approx(0.5)
    assert at(0.85) == pytest.approx(0.25, abs=1e-3)
    assert curve[-1] < 1e-3
    attack, release = curve[: int(0.1 * SAMPLE_RATE)], curve[int(0.7 * SAMPLE_RATE) :]
    assert np.all(np.diff(attack) > 0) and np.all(np.diff(release) < 0)


@pytest.mark.parametrize("kind", ["am", "fm", "additive", "subtractive"])
def test_every_finished_sound_peaks_at_its_amplitude(kind: str) -> None:
    quiet = Envelope(attack=0.3, decay=0.2, sustain=0.2, release=0.4)
    audio = synthesise([Synth(kind=kind, amplitude=0.5, envelope=quiet), Synth(kind=kind, amplitude=0.9)])
    assert np.abs(audio).max(axis=1) == pytest.approx([0.5, 0.9], rel=1e-5)


def test_the_envelope_shapes_the_sound() -> None:
    audio = synthesise([Synth(kind="fm", envelope=Envelope(attack=0.0, decay=0.0, sustain=1.0, release=0.5))])[0]
    first, last = np.abs(audio[:4000]).max(), np.abs(audio[-800:]).max()
    assert first == pytest.approx(0.9, abs=0.01)
    assert last < 0.1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "granular"}, "unknown synthesis"),
        ({"kind": "fm", "freq": 9000}, "outside"),
        ({"kind": "subtractive", "low": 2000, "high": 1000}, "band"),
        ({"kind": "am", "envelope": {"attack": 0.6, "decay": 0.3, "release": 0.3}}, "fit in the one-second"),
        ({"kind": "am", "pitch": 3}, "unknown synthesis parameters: pitch"),
        ({"kind": "fm", "freq": 2000, "ratio": 3, "index": 2}, "Carson"),
        ({"kind": "am", "freq": 7990, "mod_freq": 50}, "would pass"),
        ({"kind": "am", "mod_depth": -5}, "depth between 0 and 1"),
        ({"kind": "additive", "harmonics": 100_000}, "1 to 256 harmonics"),
        ({"kind": "fm", "envelope": {"atack": 0.1}}, "bad value"),
        ({"kind": "fm", "freq": "high"}, "bad value"),
        ([3], "must be a JSON object"),
    ],
)
def test_a_bad_description_is_refused_with_the_reason(document: object, message: str) -> None:
    with pytest.raises(SynthError, match=message):
        Synth.from_dict(document)


def test_a_description_round_trips_through_json() -> None:
    spec = Synth(kind="fm", group="bells", freq=330.0, envelope=Envelope(0.01, 0.2, 0.3, 0.4))
    assert Synth.from_dict(spec.to_dict()) == spec
