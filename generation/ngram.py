"""An interpolated Kneser-Ney n-gram language model over integer token sequences.

Why it exists: a neural model's test NLL means little on its own. A 3- to 6-gram Kneser-Ney model
is the usual baseline, so it follows the neural models' conventions exactly (see ``KneserNey``)
and its nats per token compare directly with theirs.

Why it looks like this: training sets are ~1.5M tokens, so there is no per-token Python loop. An
n-gram is packed into one int64 key, ``sum(tok_i * V**i)`` with the predicted token at i = 0 and
its context from nearest (i = 1) to farthest, so that an n-gram's context is ``key // V`` and the
same n-gram without its farthest token is ``key % V**(n-1)``. Counting is ``np.unique``; lookup
is ``np.searchsorted``.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Keys = NDArray[np.int64]
Floats = NDArray[np.float64]

FALLBACK_DISCOUNT = 0.75


def discount(counts: NDArray[np.int64]) -> float:
    """``n1 / (n1 + 2 n2)`` from the counts of counts; 0.75 where that is undefined or zero.

    Zero is refused too: with no singletons the estimate is 0, which would leave no mass for the
    lower orders and, at the unigram level, give unseen tokens probability 0.
    """
    n1, n2 = int(np.count_nonzero(counts == 1)), int(np.count_nonzero(counts == 2))
    return n1 / (n1 + 2 * n2) if n1 else FALLBACK_DISCOUNT


def _find(table: Keys, queries: Keys) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Each query's index in the sorted ``table`` (clipped, so always valid) and whether it is there.

    The queries are looked up in sorted order, which is several times faster on tables of millions.
    """
    by_value = np.argsort(queries)
    index = np.empty(len(queries), dtype=np.intp)
    index[by_value] = np.searchsorted(table, queries[by_value])
    np.minimum(index, len(table) - 1, out=index)
    return index, table[index] == queries


@dataclass(frozen=True)
class _Level:
    """The counts of one order: raw counts at the highest order, continuation counts below it."""

    base: int
    keys: Keys  # the distinct n-grams, sorted
    counts: NDArray[np.int64]
    contexts: Keys  # the distinct contexts (key // base), sorted
    totals: Floats  # per context, the sum of its n-grams' counts
    types: Floats  # per context, how many distinct tokens follow it
    discount: float

    @classmethod
    def build(cls, keys: Keys, counts: NDArray[np.int64], base: int) -> "_Level":
        contexts, starts, types = np.unique(keys // base, return_index=True, return_counts=True)
        totals = np.add.reduceat(counts, starts).astype(np.float64)
        return cls(base, keys, counts, contexts, totals, types.astype(np.float64), discount(counts))

    def interpolate(self, grams: Keys, lower: Floats) -> Floats:
        """P(w | h) for each n-gram key ``hw``, given the lower order's P(w | h') in ``lower``."""
        at, seen = _find(self.keys, grams)
        own = np.maximum(np.where(seen, self.counts[at], 0) - self.discount, 0.0)
        at, known = _find(self.contexts, grams // self.base)
        total = np.where(known, self.totals[at], 1.0)
        mixed = (own + self.discount * self.types[at] * lower) / total
        return np.where(known, mixed, lower)


class KneserNey:
    """Interpolated Kneser-Ney with one discount per order, down to a uniform distribution.

    Conventions, shared with the neural models: a piece is a 1-D array of token ids without bos or
    eos; its predicted tokens are its tokens followed by one eos, and the context of its first
    token is ``order - 1`` copies of bos. The highest order uses raw counts, lower orders the
    continuation counts N1+(. h w); the unigram level is interpolated with the uniform
    distribution over ``vocab_size``, so every token has nonzero probability; an unseen context
    backs off fully to the order below.
    """

    def __init__(self, order: int, vocab_size: int, *, bos: int, eos: int) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, not {order}")
        if vocab_size**order >= 2**62:
            raise ValueError(f"vocab_size**order = {vocab_size}**{order} does not fit an int64 key")
        if not (0 <= bos < vocab_size and 0 <= eos < vocab_size):
            raise ValueError(f"bos {bos} and eos {eos} must be token ids below {vocab_size}")
        self.order, self.vocab_size, self.bos, self.eos = order, vocab_size, bos, eos
        self._levels: list[_Level] = []

    def fit(self, pieces: Sequence[np.ndarray]) -> "KneserNey":
        if not len(pieces):
            raise ValueError("fit needs at least one piece")
        keys, counts = np.unique(self._grams(pieces)[-1], return_counts=True)
        levels = [_Level.build(keys, counts, self.vocab_size)]
        for n in range(self.order - 1, 0, -1):  # each distinct (n+1)-gram adds 1 to its n-gram suffix
            keys, counts = np.unique(keys % self.vocab_size**n, return_counts=True)
            levels.append(_Level.build(keys, counts, self.vocab_size))
        self._levels = levels[::-1]
        return self

    def token_log_probs(self, pieces: Sequence[np.ndarray]) -> np.ndarray:
        """The natural log probability of each predicted token, concatenated over the pieces."""
        if not self._levels:
            raise RuntimeError("fit the model before scoring with it")
        grams = self._grams(pieces)
        probs = np.full(len(grams[0]), 1.0 / self.vocab_size)
        for level, keys in zip(self._levels, grams, strict=True):
            probs = level.interpolate(keys, probs)
        return np.log(probs)

    def nll(self, pieces: Sequence[np.ndarray]) -> tuple[float, int]:
        """The total negative log-likelihood in nats, and how many tokens were predicted."""
        log_probs = self.token_log_probs(pieces)
        return float(-log_probs.sum()), int(log_probs.size)

    def _grams(self, pieces: Sequence[np.ndarray]) -> list[Keys]:
        """For n = 1 .. order, the key of the n-gram that ends at each predicted token."""
        padded, targets = self._padded(pieces)
        grams = [padded[targets]]
        for n in range(1, self.order):
            grams.append(grams[-1] + padded[targets - n] * self.vocab_size**n)
        return grams

    def _padded(self, pieces: Sequence[np.ndarray]) -> tuple[Keys, NDArray[np.intp]]:
        """All pieces laid end to end, each as ``order - 1`` bos, its tokens and eos; and where the
        predicted tokens lie in that."""
        tokens = self._tokens(pieces)
        lengths = np.array([len(piece) for piece in pieces], dtype=np.intp) + self.order
        starts = np.cumsum(lengths) - lengths
        padded = np.full(int(lengths.sum()), self.bos, dtype=np.int64)
        padded[starts + lengths - 1] = self.eos
        predicted = np.arange(len(padded)) - np.repeat(starts, lengths) >= self.order - 1
        is_token = predicted.copy()
        is_token[starts + lengths - 1] = False
        padded[is_token] = tokens
        return padded, np.flatnonzero(predicted)

    def _tokens(self, pieces: Sequence[np.ndarray]) -> Keys:
        arrays = [np.asarray(piece) for piece in pieces]
        if any(array.ndim != 1 for array in arrays):
            raise ValueError("each piece must be a 1-D array of token ids")
        tokens = np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, dtype=np.int64)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        return tokens
