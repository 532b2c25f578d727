"""One-second sounds by synthesis, the four kinds of ASCIML (AM, FM, additive, subtractive), each
shaped by an ADSR envelope and computed for a whole batch at once with NumPy.

A sound is described by a `Synth`: its kind, its parameters and a group label. The description is
what a dataset records as the clip's source, so the same description always gives the same samples
(subtractive noise is drawn from the description's own seed).

Where the thesis' code was loose this one is exact: the additive series starts at the fundamental
(the prototype's started at 0 Hz, a DC offset), partials above Nyquist are left out, AM and FM
whose sidebands (Carson's bandwidth for FM) would pass Nyquist are refused rather than aliased,
and every finished sound, envelope included, peaks at its `amplitude`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt

SAMPLE_RATE = 16_000
CLIP_SAMPLES = SAMPLE_RATE  # one second, the VAE's input
KINDS = ("am", "fm", "additive", "subtractive")
CHUNK = 256  # sounds synthesised together: bounds the float64 temporaries to a few tens of MB
MAX_HARMONICS = 256

Audio = NDArray[np.float32]


class SynthError(ValueError):
    """A synthesis description that cannot be rendered, with the reason."""


@dataclass(frozen=True)
class Envelope:
    """Attack, decay and release in seconds; sustain is a level (0-1) held until the release."""

    attack: float = 0.01
    decay: float = 0.1
    sustain: float = 0.7
    release: float = 0.2

    def check(self) -> None:
        if min(self.attack, self.decay, self.release) < 0 or not 0 <= self.sustain <= 1:
            raise SynthError("envelope times must be >= 0 s and sustain a level between 0 and 1")
        if self.attack + self.decay + self.release > 1:
            raise SynthError("attack + decay + release must fit in the one-second clip")


@dataclass(frozen=True)
class Synth:
    """One sound. Fields a kind does not use are ignored by it (and keep their defaults)."""

    kind: str
    group: str = "synth"
    freq: float = 440.0  # Hz: the carrier (am, fm) or the fundamental (additive)
    amplitude: float = 0.9  # peak of the finished sound; the VAE's tanh output reaches +-1
    envelope: Envelope = field(default_factory=Envelope)
    mod_freq: float = 6.0  # am: modulator in Hz (a few Hz is tremolo; tens of Hz make sidebands)
    mod_depth: float = 0.5  # am: modulator amplitude relative to the carrier's
    ratio: float = 1.0  # fm: modulator frequency / carrier; whole numbers keep a harmonic spectrum on freq
    index: float = 2.0  # fm: modulation index (peak phase deviation, radians)
    harmonics: int = 8  # additive: partials on the fundamental
    rolloff: float = 1.0  # additive: partial k has amplitude k ** -rolloff
    low: float = 800.0  # subtractive: band-pass edges in Hz
    high: float = 1000.0
    seed: int = 0  # subtractive: the noise

    def check(self) -> None:
        if self.kind not in KINDS:
            raise SynthError(f"unknown synthesis {self.kind!r}; choose one of {', '.join(KINDS)}")
        self.envelope.check()
        nyquist = SAMPLE_RATE / 2
        if self.kind != "subtractive" and not 20 <= self.freq < nyquist:
            raise SynthError(f"frequency {self.freq} Hz is outside 20 Hz - {nyquist:.0f} Hz")
        if self.kind == "subtractive" and not 20 <= self.low < self.high < nyquist:
            raise SynthError(f"band {self.low}-{self.high} Hz must rise within 20 Hz - {nyquist:.0f} Hz")
        if not 0 < self.amplitude <= 1:
            raise SynthError("amplitude must be in (0, 1]")
        if self.kind == "am":
            if not (self.mod_freq > 0 and 0 <= self.mod_depth <= 1):
                raise SynthError("AM needs a modulator above 0 Hz and a depth between 0 and 1")
            if self.freq + self.mod_freq >= nyquist:
                raise SynthError(f"AM sideband at {self.freq + self.mod_freq:.0f} Hz would pass {nyquist:.0f} Hz")
        if self.kind == "fm":
            if not (self.ratio > 0 and self.index >= 0):
                raise SynthError("FM needs a ratio above 0 and an index of 0 or more")
            if fm_bandwidth(self.freq, self.ratio, self.index) >= nyquist:
                raise SynthError(
                    f"FM sidebands reach {fm_bandwidth(self.freq, self.ratio, self.index):.0f} Hz (Carson), past "
                    f"{nyquist:.0f} Hz: lower the frequency, ratio or index"
                )
        if self.kind == "additive" and not (1 <= self.harmonics <= MAX_HARMONICS and self.rolloff >= 0):
            raise SynthError(f"additive synthesis needs 1 to {MAX_HARMONICS} harmonics and a rolloff of 0 or more")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Synth:
        if not isinstance(document, dict):
            raise SynthError("a synthesis description must be a JSON object")
        known = {item.name for item in fields(cls)}
        unknown = set(document) - known
        if unknown:
            raise SynthError(f"unknown synthesis parameters: {', '.join(sorted(unknown))}")
        try:
            envelope = Envelope(**{k: float(v) for k, v in document.get("envelope", {}).items()})
            typed = {name: _typed(name, value) for name, value in document.items() if name != "envelope"}
            synth = cls(**typed, envelope=envelope)
        except (TypeError, ValueError, AttributeError) as error:
            raise SynthError(f"a synthesis description has a bad value: {error}") from None
        synth.check()
        return synth


def _typed(name: str, value: Any) -> Any:
    """The field's value as its type: numbers from JSON may come as strings or ints."""
    if name in ("kind", "group"):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        return value
    return int(value) if name in ("harmonics", "seed") else float(value)


def fm_bandwidth(freq: float, ratio: float, index: float) -> float:
    """The highest frequency that matters in an FM sound: Carson's rule around the carrier."""
    return freq + (index + 1) * freq * ratio


def envelopes(specs: Sequence[Envelope], samples: int = CLIP_SAMPLES) -> Audio:
    """ADSR curves, one row per envelope: 0 -> 1 over the attack, 1 -> sustain over the decay, held,
    then sustain -> 0 over the release, which reaches 0 where the clip ends."""
    a, d, s, r = (
        np.array([getattr(e, name) for e in specs], dtype=np.float64)[:, None]
        for name in ("attack", "decay", "sustain", "release")
    )
    t = np.arange(samples)[None, :] / SAMPLE_RATE
    end = samples / SAMPLE_RATE
    tiny = 1e-9  # a zero-length segment is a jump
    rise = np.clip(t / np.maximum(a, tiny), 0, 1)
    fall = 1 - (1 - s) * np.clip((t - a) / np.maximum(d, tiny), 0, 1)
    release = np.clip((end - t) / np.maximum(r, tiny), 0, 1)
    curve = np.where(t < a, rise, fall) * np.where(t > end - r, release, 1.0)
    return curve.astype(np.float32)


def synthesise(specs: Sequence[Synth]) -> Audio:
    """Render every description; rows in the order given."""
    if not specs:
        raise SynthError("no sounds described")
    for spec in specs:
        spec.check()
    out = np.zeros((len(specs), CLIP_SAMPLES), dtype=np.float32)
    for kind in KINDS:
        rows = [i for i, spec in enumerate(specs) if spec.kind == kind]
        for start in range(0, len(rows), CHUNK):
            chunk = [specs[i] for i in rows[start : start + CHUNK]]
            shaped = _peak_normalise(_RENDER[kind](chunk) * envelopes([spec.envelope for spec in chunk]))
            out[rows[start : start + CHUNK]] = shaped * _column(chunk, "amplitude")
    return out


def _column(specs: Sequence[Synth], name: str) -> NDArray[np.float64]:
    return np.array([float(getattr(spec, name)) for spec in specs])[:, None]


def _time() -> NDArray[np.float64]:
    return (np.arange(CLIP_SAMPLES) / SAMPLE_RATE)[None, :]


def _peak_normalise(signal: NDArray[np.float64]) -> NDArray[np.float64]:
    return signal / np.maximum(np.abs(signal).max(axis=1, keepdims=True), 1e-12)


def _am(specs: Sequence[Synth]) -> NDArray[np.float64]:
    t, fc, fm, depth = _time(), _column(specs, "freq"), _column(specs, "mod_freq"), _column(specs, "mod_depth")
    return (1 + depth * np.cos(2 * np.pi * fm * t)) * np.cos(2 * np.pi * fc * t)


def _fm(specs: Sequence[Synth]) -> NDArray[np.float64]:
    t, fc, ratio, index = _time(), _column(specs, "freq"), _column(specs, "ratio"), _column(specs, "index")
    return np.cos(2 * np.pi * fc * t + index * np.sin(2 * np.pi * fc * ratio * t))


def _additive(specs: Sequence[Synth]) -> NDArray[np.float64]:
    f0, rolloff, count = _column(specs, "freq"), _column(specs, "rolloff"), _column(specs, "harmonics")
    t, total = _time(), np.zeros((len(specs), CLIP_SAMPLES))
    for k in range(1, int(count.max()) + 1):
        audible = (k <= count) & (k * f0 < SAMPLE_RATE / 2)
        if not audible.any():
            break
        total += np.where(audible, float(k) ** -rolloff, 0.0) * np.sin(2 * np.pi * k * f0 * t)
    return total


def _subtractive(specs: Sequence[Synth]) -> NDArray[np.float64]:
    rows = []
    for spec in specs:
        noise = np.random.default_rng(spec.seed).uniform(-1, 1, CLIP_SAMPLES)
        sos = butter(4, [spec.low, spec.high], btype="bandpass", fs=SAMPLE_RATE, output="sos")
        rows.append(sosfilt(sos, noise))
    return np.stack(rows)


_RENDER = {"am": _am, "fm": _fm, "additive": _additive, "subtractive": _subtractive}


def random_synths(count: int, *, seed: int) -> list[Synth]:
    """A varied set for pre-training: every kind in turn, pitches log-uniform over C2-C7, random
    envelopes and timbres. The group is the kind."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        attack = float(rng.choice([0.002, 0.01, 0.05, 0.2]) * rng.uniform(0.5, 1.5))
        release = float(rng.uniform(0.02, 0.4))
        decay = float(rng.uniform(0.02, min(0.4, 0.98 - attack - release)))
        envelope = Envelope(attack=attack, decay=decay, sustain=float(rng.uniform(0.2, 1.0)), release=release)
        freq = float(65.4 * 2 ** rng.uniform(0, 5))
        low = float(100 * 2 ** rng.uniform(0, 5))
        ratio = float(rng.choice([0.5, 1, 2, 3, 1.41]))
        # the largest FM index whose sidebands stay under Nyquist (Carson), kept at 0.2 or more
        most = (SAMPLE_RATE / 2 * 0.95 - freq) / (freq * ratio) - 1
        if most < 0.2:
            ratio, most = 0.5, (SAMPLE_RATE / 2 * 0.95 - freq) / (freq * 0.5) - 1
        spec = Synth(
            kind=kind,
            group=kind,
            freq=round(freq, 2),
            envelope=envelope,
            mod_freq=float(rng.choice([rng.uniform(2, 12), rng.uniform(20, 200)])),
            mod_depth=float(rng.uniform(0.1, 1.0)),
            ratio=ratio,
            index=float(min(rng.uniform(0.2, 6), most)),
            harmonics=int(rng.integers(1, 17)),
            rolloff=float(rng.uniform(0.5, 2.5)),
            low=round(low, 1),
            high=round(min(low * 2 ** rng.uniform(0.1, 2), 7_500.0), 1),
            seed=int(rng.integers(2**31)),
        )
        specs.append(spec)
    return specs


def lab_synths(*, seed: int = 0, per_group: int = 15) -> list[Synth]:
    """A small designed set like the thesis' workshops: four groups, one per kind, pitches spread
    over two octaves from A2, one envelope per group."""
    rng = np.random.default_rng(seed)
    groups = (
        Synth(kind="fm", group="bells", ratio=2.0, index=2.5, envelope=Envelope(0.002, 0.3, 0.2, 0.5)),
        Synth(kind="am", group="tremolo", mod_freq=7.0, mod_depth=0.6, envelope=Envelope(0.1, 0.1, 0.8, 0.2)),
        Synth(kind="additive", group="organ", harmonics=8, rolloff=1.2, envelope=Envelope(0.02, 0.05, 0.9, 0.1)),
        Synth(kind="subtractive", group="wind", envelope=Envelope(0.3, 0.2, 0.6, 0.3)),
    )
    specs = []
    for base in groups:
        for _ in range(per_group):
            freq = round(float(110 * 2 ** rng.uniform(0, 2)), 2)
            specs.append(replace(base, freq=freq, low=freq * 2, high=freq * 3, seed=int(rng.integers(2**31))))
    return specs
