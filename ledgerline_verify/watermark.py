"""A watermark that survives what a streaming service does to a track: a 64-bit mark, written
into the sound itself, that names the work's token from the chain alone.

Scheme (spread-transform dither modulation, Chen & Wornell 2001, on log band energies):
- The sound is mixed to mono and looked at 11,025 times a second, in frames of 46 ms every 23 ms.
  Between 86 Hz and 3.7 kHz (what survives MP3, a 4 kHz low-pass and telephone rates) the
  spectrogram is cut into cells of 65 Hz (129 Hz above 1 kHz) by 4 frames (93 ms). A pair is a
  cell and the next one in its band; its feature is the difference of the two log energies, which
  a change of gain leaves alone. A pair's weight says how loud its quieter cell is against the
  loudest band of the moment (full within 8 dB, none below 20 dB): a codec's noise and added noise
  drown quiet cells first.
- One block is 48 cells (4.46 s) by 35 bands: 840 pairs. Each coded bit owns two or three of
  them, spread at random; the weighted projection of their features is moved to the nearest point
  of a lattice of spacing STEP whose offset depends on the bit. The music's own features add no
  noise to the bit (the quantiser carries it, not an added signal), which is what lets a bit live
  in a few cells. The block repeats through the whole piece; the mark is scaled down where it would
  be louder than MAX_MARK_DB against the music.
- Bits: the 64-bit mark and a 32-bit check (SHA-256 of the mark, truncated), coded by the
  rate-1/3, constraint-7 convolutional code (133, 171, 165 octal; 6 tail bits): 306 coded bits.
- Detection tries every alignment of the block (every 2.9 ms) and, where none decodes, speeds
  from -2.4% to +2.4% in steps of 0.4% on the first 12 s; every candidate's soft bits (summed over
  the block's repetitions) go through a Viterbi decoder at once, and a candidate counts only when
  its 96 decoded bits pass the check: a wrong one passes with probability 2^-32. Where none
  does, the soft bits are correlated with the code of each mark the caller knows (the marks the
  chain announced), and the best is reported when chance would give its score less often than
  MAX_FALSE_ALARM over everything tried.

The layout (which pairs carry which bit, their signs and dithers) comes from a fixed public seed:
anyone can read the mark, as anyone can read a C2PA manifest. What the mark proves is that the
sound carries the mark minted with a token, not that its bytes were minted.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soxr

ALGORITHM = "org.ledgerline.watermark.stdm.1"
RATE = 11025
N_FFT = 512
HOP = 256
# Band edges in bins of 21.5 Hz: 3 bins (65 Hz) from 86 Hz to 1 kHz, where a melody's harmonics
# are loud, then 6 bins (129 Hz) to 3.7 kHz.
EDGES = np.concatenate([np.arange(4, 46, 3), np.arange(46, 173, 6)])
BAND_WIDTHS = np.diff(EDGES)
BANDS = len(BAND_WIDTHS)
CELL_FRAMES = 4
BLOCK_CELLS = 48
STEP = 0.4  # the lattice spacing, in nepers of log energy
PAYLOAD_BITS = 64
CHECK_BITS = 32
GENERATORS = (0o133, 0o171, 0o165)
CONSTRAINT = 7
INFO_BITS = PAYLOAD_BITS + CHECK_BITS
CODED_BITS = (INFO_BITS + CONSTRAINT - 1) * len(GENERATORS)
PAIRS_PER_BIT = -(-(BLOCK_CELLS // 2 * BANDS) // CODED_BITS)  # some bits have one pair fewer
SILENCE_DB = 60.0  # cells this far below the piece's loud cells carry nothing
RELIABLE_DB = (-8.0, -20.0)  # a detector trusts a cell fully above the first, not below the second
MAX_MARK_DB = -36.0  # the mark's energy against the music's, at most
MAX_FALSE_ALARM = 1e-9  # a known mark is reported when chance would give its score less often
MIN_NORM = 0.3  # a bit's pairs in a block with less weight than this are left alone
PHASES = 8  # the detector looks at block alignments every HOP / PHASES samples
SPEEDS = tuple(1 + 0.004 * k for k in (1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6))
SPEED_SEARCH_SECONDS, SPEED_SEARCH_PHASES = 12.0, 4
SEED = b"ledgerline watermark layout v1"
BLOCK_SECONDS = BLOCK_CELLS * CELL_FRAMES * HOP / RATE
PARAMETERS = {
    "rate": RATE,
    "frame": N_FFT,
    "hop": HOP,
    "band_edges_hz": [round(edge * RATE / N_FFT) for edge in EDGES],
    "cell_frames": CELL_FRAMES,
    "block_seconds": round(BLOCK_SECONDS, 3),
    "pairs": "consecutive cells of a band",
    "weights_db": list(RELIABLE_DB),
    "step": STEP,
    "max_mark_db": MAX_MARK_DB,
    "code": "convolutional K=7 rate 1/3 (133,171,165)",
    "check": "sha256 first 32 bits",
    "layout_seed": SEED.decode(),
}


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(first cell, band, sign) of each coded bit's pairs, shapes (CODED_BITS, PAIRS_PER_BIT), and
    each coded bit's dither. A pair is two cells of one band, one after the other. Every pair of the
    block is used: some bits get one pair more than others (a missing pair has sign 0)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(SEED).digest()[:8], "big"))
    slots = rng.permutation(BLOCK_CELLS // 2 * BANDS)
    padded = np.full(CODED_BITS * PAIRS_PER_BIT, -1)
    padded[: len(slots)] = slots
    order = padded.reshape(PAIRS_PER_BIT, CODED_BITS).T  # pair k of every bit before pair k+1 of any
    signs = np.where(order >= 0, rng.choice([-1.0, 1.0], size=order.shape), 0.0)
    order = np.maximum(order, 0)
    dithers = rng.uniform(0, STEP, size=CODED_BITS)
    return 2 * (order // BANDS), order % BANDS, signs, dithers


CELLS, BAND_OF, SIGNS, DITHERS = _layout()


# --- the code ---


def check_bits(payload: bytes) -> bytes:
    return hashlib.sha256(b"ledgerline watermark check" + payload).digest()[: CHECK_BITS // 8]


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """For each next state and each of its two predecessors: the coded bits (+1/-1) of that step."""
    states = 1 << (CONSTRAINT - 1)
    outputs = np.zeros((states, 2, len(GENERATORS)))
    predecessors = np.zeros((states, 2), dtype=np.int64)
    for nxt in range(states):
        bit = nxt & 1
        for which in range(2):
            prev = (nxt >> 1) | (which << (CONSTRAINT - 2))
            register = (prev << 1) | bit  # the newest bit lowest, CONSTRAINT bits
            predecessors[nxt, which] = prev
            for g, poly in enumerate(GENERATORS):
                parity = bin(register & poly).count("1") & 1
                outputs[nxt, which, g] = 1.0 - 2.0 * parity
    return predecessors, outputs


PREDECESSORS, OUTPUTS = _trellis()


def encode(payload: bytes) -> np.ndarray:
    """The CODED_BITS bits (0/1) that carry `payload` (8 bytes) and its check."""
    if len(payload) != PAYLOAD_BITS // 8:
        raise ValueError(f"a watermark payload is {PAYLOAD_BITS // 8} bytes")
    info = np.concatenate([_bits(payload + check_bits(payload)), np.zeros(CONSTRAINT - 1, np.uint8)])
    state = 0
    coded: list[int] = []
    for bit in info:
        register = (state << 1) | int(bit)
        coded.extend(bin(register & poly).count("1") & 1 for poly in GENERATORS)
        state = register & ((1 << (CONSTRAINT - 1)) - 1)
    return np.array(coded, dtype=np.uint8)


def viterbi(soft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most likely information bits for each row of soft coded bits (positive: 0), shape
    (B, INFO_BITS), and the best path's metric (its correlation with the soft bits)."""
    batch = soft.shape[0]
    steps = soft.reshape(batch, -1, len(GENERATORS)).astype(np.float32)
    states = 1 << (CONSTRAINT - 1)
    half = states // 2
    # The state is the last CONSTRAINT - 1 bits, newest lowest: next state 2j + bit comes from
    # state j or j + half. A step's branch metric is one of the 2^len(GENERATORS) output patterns.
    patterns = 1.0 - 2.0 * ((np.arange(2 ** len(GENERATORS))[:, None] >> np.arange(len(GENERATORS))) & 1)
    which = ((1.0 - OUTPUTS) / 2) @ (1 << np.arange(len(GENERATORS)))  # (next state, predecessor) -> pattern
    low, high = which[:, 0].astype(np.int64), which[:, 1].astype(np.int64)
    metric = np.full((batch, states), -1e30, dtype=np.float32)
    metric[:, 0] = 0.0
    choices = np.zeros((steps.shape[1], batch, states), dtype=bool)
    for t in range(steps.shape[1]):
        branch = steps[:, t] @ patterns.T.astype(np.float32)  # (batch, patterns)
        from_low = np.repeat(metric[:, :half], 2, axis=1) + branch[:, low]
        from_high = np.repeat(metric[:, half:], 2, axis=1) + branch[:, high]
        choices[t] = from_high > from_low
        metric = np.maximum(from_low, from_high)
    state = np.zeros(batch, dtype=np.int64)  # the tail brings the coder back to state 0
    bits = np.zeros((batch, steps.shape[1]), dtype=np.uint8)
    rows = np.arange(batch)
    for t in range(steps.shape[1] - 1, -1, -1):
        bits[:, t] = state & 1
        state = (state >> 1) + half * choices[t, rows, state]
    return bits[:, :INFO_BITS], metric[:, 0]


# --- the spectrogram ---

WINDOW = np.sqrt(np.hanning(N_FFT + 1)[:N_FFT])  # sine window: analysis x synthesis sums to 1 at HOP
BAND_LO, BAND_HI = int(EDGES[0]), int(EDGES[-1])


def _mono(samples: np.ndarray, rate: int) -> np.ndarray:
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    return soxr.resample(np.ascontiguousarray(mono, dtype=np.float64), rate, RATE)


def _frames(signal: np.ndarray, hop: int = HOP) -> np.ndarray:
    if len(signal) < N_FFT:
        return np.zeros((0, N_FFT // 2 + 1), dtype=complex)
    windows = np.lib.stride_tricks.sliding_window_view(signal, N_FFT)[::hop]
    return np.fft.rfft(windows * WINDOW, axis=1)


def _band_energy(spectrum: np.ndarray) -> np.ndarray:
    power = np.abs(spectrum[:, BAND_LO:BAND_HI]) ** 2
    return np.add.reduceat(power, EDGES[:-1] - BAND_LO, axis=1)


def _weight(level: np.ndarray) -> np.ndarray:
    """How much a pair whose quieter cell is `level` dB below the loudest band of its moment counts:
    a coder's noise and added noise drown quiet cells first, so the mark lives in the loud ones."""
    return np.clip((level - RELIABLE_DB[1]) / (RELIABLE_DB[0] - RELIABLE_DB[1]), 0.0, 1.0)


def _features(energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's log-energy minus the next cell's in its band (0 where either is silent) and the
    pair's weight: shapes (cells - 1, BANDS)."""
    logs = np.log(np.maximum(energy, 1e-30))
    # Loudness against the loudest band of the moment: the same in any excerpt, and at any gain.
    level = 10 / np.log(10) * (logs - logs.max(axis=1, keepdims=True, initial=np.log(1e-20)))
    silent = energy < np.percentile(energy, 95) * 10 ** (-SILENCE_DB / 10) if energy.size else energy > 0
    level[silent] = -np.inf
    weight = _weight(np.minimum(level[:-1], level[1:]))
    return np.where(weight > 0, logs[:-1] - logs[1:], 0.0), weight


def _projections(features: np.ndarray, weight: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bit's projection and norm for pairs starting at `rows` (..., CODED_BITS, PAIRS_PER_BIT),
    which may lie up to a block before the first cell and three blocks after the last."""
    before, after = BLOCK_CELLS, 3 * BLOCK_CELLS
    flat_features = np.pad(features, ((before, after), (0, 0))).ravel()
    flat_weight = np.pad(weight, ((before, after), (0, 0)), constant_values=-1.0).ravel()  # -1: outside
    index = (rows + before) * BANDS + BAND_OF
    w = flat_weight[index]
    # A bit whose pairs are not all there (at the ends of an excerpt) cannot be read.
    complete = ((w >= 0) | (SIGNS == 0)).all(axis=-1)
    w = np.maximum(w, 0.0) * np.abs(SIGNS)
    norm = np.where(complete, np.sqrt((w * w).sum(axis=-1)), 0.0)
    projection = (w * SIGNS * flat_features[index]).sum(axis=-1) / np.maximum(norm, 1e-9)
    return projection, norm


# --- embedding ---


def _changes(features: np.ndarray, weight: np.ndarray, coded: np.ndarray) -> np.ndarray:
    """The change of each pair's feature that puts every bit on its lattice: shape like features."""
    change = np.zeros_like(features)
    offset = np.where(coded == 1, STEP / 2, 0.0) + DITHERS
    for start in range(0, len(features), BLOCK_CELLS):
        rows = CELLS + start
        projection, norm = _projections(features, weight, rows)
        target = offset + STEP * np.round((projection - offset) / STEP)
        usable = norm > MIN_NORM
        step = np.where(usable, (target - projection) / np.maximum(norm, 1e-9), 0.0)
        np.add.at(
            change,
            (np.minimum(rows, len(features) - 1), BAND_OF),
            SIGNS * weight[np.minimum(rows, len(features) - 1), BAND_OF] * step[:, None] * usable[:, None],
        )
    return change


def embed(samples: np.ndarray, rate: int, payload: bytes, passes: int = 2) -> np.ndarray:
    """`samples` (frames x channels, or mono; float) with `payload` written in; same shape and rate."""
    coded = encode(payload)
    mono = _mono(samples, rate)
    padded = np.concatenate([mono, np.zeros(N_FFT)])
    mark = np.zeros_like(padded)
    frames = max(0, (len(padded) - N_FFT) // HOP + 1)
    for _ in range(passes):
        spectrum = _frames(padded + mark)
        bands = _band_energy(spectrum)
        cells = len(bands) // CELL_FRAMES
        energy = bands[: cells * CELL_FRAMES].reshape(cells, CELL_FRAMES, BANDS).sum(axis=1)
        change = _changes(*_features(energy), coded)
        if not np.any(change):
            break
        # Half the change of a pair's difference goes to each cell, in opposite directions;
        # a cell's amplitude moves by half its log-energy change.
        gain = np.zeros((len(energy), BANDS))
        gain[:-1] += change / 2
        gain[1:] -= change / 2
        per_frame = np.repeat(gain, CELL_FRAMES, axis=0)
        per_bin = np.repeat(per_frame, BAND_WIDTHS, axis=1)
        factor = np.exp(per_bin / 2) - 1
        delta = np.zeros_like(spectrum)
        delta[: len(factor), BAND_LO:BAND_HI] = spectrum[: len(factor), BAND_LO:BAND_HI] * factor
        pieces = np.fft.irfft(delta, n=N_FFT, axis=1) * WINDOW
        for index in range(frames):
            mark[index * HOP : index * HOP + N_FFT] += pieces[index]
    mark = soxr.resample(mark[: len(mono)], RATE, rate)
    mark = np.pad(mark, (0, max(0, len(samples) - len(mark))))[: len(samples)]
    # Never louder than MAX_MARK_DB below the music: where the lattice asks for more, every
    # change is scaled down alike (the bits move part of the way; distortion compensation).
    channels = samples.shape[1] if samples.ndim == 2 else 1
    ceiling = np.sum(samples**2) / channels * 10 ** (MAX_MARK_DB / 10)
    if np.sum(mark**2) > ceiling:
        mark *= np.sqrt(ceiling / np.sum(mark**2))
    if samples.ndim == 2:
        return samples + mark[:, None]
    return samples + mark


# --- detection ---


@dataclass(frozen=True)
class Detection:
    payload: bytes  # the 64-bit mark
    method: str  # "decoded": read blind and checked; "matched": a known mark correlates
    score: float  # the mark's correlation with what was read, in standard deviations of chance
    false_alarm: float  # a bound on the chance that sound without this mark gives this result
    offset_seconds: float  # where a block starts in the file
    speed: float  # the speed the file plays at against the original (1.02: 2% faster)
    bits_recovered: int  # coded bits read from the sound (not erased)
    errors_corrected: int  # of those, how many disagree with the mark's code


def _soft(features: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Soft coded bits for every block alignment (rotation) in cells: shape (BLOCK_CELLS, CODED_BITS)."""
    blocks = len(features) // BLOCK_CELLS + 2
    starts = np.arange(BLOCK_CELLS)[:, None] + BLOCK_CELLS * (np.arange(blocks) - 1)[None, :]
    rows = starts[:, :, None, None] + CELLS[None, None]  # (rotation, block, bit, pair)
    projection, norm = _projections(features, weight, rows)
    trust = np.where(norm > MIN_NORM, np.minimum(norm, 1.0), 0.0)
    return (trust * np.cos(2 * np.pi * (projection - DITHERS) / STEP)).sum(axis=1)


def _readings(signal: np.ndarray, phases: int = PHASES) -> tuple[np.ndarray, np.ndarray]:
    """Soft coded bits for every alignment of the block (every HOP / phases samples), and each
    alignment's block start in samples: shapes (alignments, CODED_BITS), (alignments,)."""
    step = HOP // phases
    bands = _band_energy(_frames(signal, step))
    softs, starts = [], []
    for shift in range(CELL_FRAMES * phases):
        frames = bands[shift % phases :: phases][shift // phases :]
        cells = len(frames) // CELL_FRAMES
        if cells < 2:
            continue
        energy = frames[: cells * CELL_FRAMES].reshape(cells, CELL_FRAMES, BANDS).sum(axis=1)
        softs.append(_soft(*_features(energy)))
        starts.append(shift * step + np.arange(BLOCK_CELLS) * CELL_FRAMES * HOP)
    if not softs:
        return np.zeros((0, CODED_BITS)), np.zeros(0)
    return np.concatenate(softs), np.concatenate(starts)


def _gaussian_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _result(payload: bytes, soft: np.ndarray, method: str, false_alarm: float, start: float, speed: float) -> Detection:
    code = 1.0 - 2.0 * encode(payload)
    read = soft != 0
    return Detection(
        payload=payload,
        method=method,
        score=round(float(soft @ code / max(np.sqrt(soft @ soft), 1e-12)), 2),
        false_alarm=false_alarm,
        offset_seconds=round(float(start) / RATE / speed, 3),
        speed=round(speed, 4),
        bits_recovered=int(read.sum()),
        errors_corrected=int((read & (soft * code < 0)).sum()),
    )


def detect(samples: np.ndarray, rate: int, marks: Sequence[bytes] = (), speeds: bool = True) -> Detection | None:
    """The mark in `samples`, or None: decoded blind (its check passes), or else the one of `marks`
    (the marks minted so far) that correlates beyond chance. Tries the normal speed first, then
    +-2.4% when `speeds`."""
    mono = _mono(samples, rate)
    codes = np.array([1.0 - 2.0 * encode(mark) for mark in marks]).reshape(len(marks), CODED_BITS)
    tried = 0
    for speed in (1.0, *SPEEDS) if speeds else (1.0,):
        if speed == 1.0:
            soft, starts = _readings(mono)
        else:  # other speeds are looked for in a stretch of the sound, on a coarser grid
            stretch = soxr.resample(mono[: int(SPEED_SEARCH_SECONDS * RATE)], RATE, RATE * speed)
            soft, starts = _readings(stretch, SPEED_SEARCH_PHASES)
        if not len(soft):
            return None
        tried += len(soft)
        info, metric = viterbi(soft)
        payloads = np.packbits(info[:, :PAYLOAD_BITS], axis=1)
        checks = np.packbits(info[:, PAYLOAD_BITS:], axis=1)
        for row in np.argsort(-metric):
            payload = payloads[row].tobytes()
            if checks[row].tobytes() == check_bits(payload):
                return _result(payload, soft[row], "decoded", tried * 2.0**-CHECK_BITS, starts[row], speed)
        if len(codes):
            # Under no mark a row's correlation with a code is close to a standard normal; the
            # bound counts every alignment, speed and mark tried.
            scores = (soft @ codes.T) / np.maximum(np.sqrt((soft**2).sum(axis=1)), 1e-12)[:, None]
            row, which = np.unravel_index(np.argmax(scores), scores.shape)
            false_alarm = tried * len(codes) * _gaussian_tail(float(scores[row, which]))
            if false_alarm < MAX_FALSE_ALARM:
                return _result(marks[int(which)], soft[row], "matched", false_alarm, starts[row], speed)
    return None
