"""The Kneser-Ney baseline gives proper distributions and the same numbers as the textbook formula."""

import math
from collections import Counter

import numpy as np
import pytest

from generation.ngram import FALLBACK_DISCOUNT, KneserNey

VOCAB, BOS, EOS = 12, 10, 11
UNSEEN = 7  # training data below uses tokens 0..5 only


def random_pieces(seed: int, count: int, high: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, high, size=rng.integers(0, 30)) for _ in range(count)]


def next_token_probs(model: KneserNey, context: tuple[int, ...]) -> np.ndarray:
    """P(w | context) for every w, read through the public interface: the pieces ``context + w``."""
    pieces = [np.array([*context, w]) for w in range(VOCAB)]
    log_probs = model.token_log_probs(pieces).reshape(VOCAB, len(context) + 2)
    return np.exp(log_probs[:, len(context)])


class Reference:
    """Interpolated Kneser-Ney written the obvious way, with dicts and a loop over the vocabulary."""

    def __init__(self, order: int, pieces: list[np.ndarray]) -> None:
        self.order = order
        top: Counter[tuple[int, ...]] = Counter()
        for piece in pieces:
            padded = [BOS] * (order - 1) + [int(t) for t in piece] + [EOS]
            top.update(tuple(padded[i - order + 1 : i + 1]) for i in range(order - 1, len(padded)))
        self.counts = {order: top}
        for n in range(order - 1, 0, -1):
            self.counts[n] = Counter(gram[1:] for gram in self.counts[n + 1])
        self.discounts = {n: self._discount(c) for n, c in self.counts.items()}

    @staticmethod
    def _discount(counts: Counter[tuple[int, ...]]) -> float:
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        return n1 / (n1 + 2 * n2) if n1 else FALLBACK_DISCOUNT

    def prob(self, context: tuple[int, ...], token: int) -> float:
        prob = 1 / VOCAB
        for n in range(1, self.order + 1):
            history, counts, d = context[len(context) - n + 1 :], self.counts[n], self.discounts[n]
            following = [counts[(*history, w)] for w in range(VOCAB)]
            total = sum(following)
            if total:
                types = sum(1 for c in following if c)
                prob = (max(counts[(*history, token)] - d, 0) + d * types * prob) / total
        return prob

    def log_probs(self, pieces: list[np.ndarray]) -> list[float]:
        out = []
        for piece in pieces:
            padded = [BOS] * (self.order - 1) + [int(t) for t in piece] + [EOS]
            for i in range(self.order - 1, len(padded)):
                out.append(math.log(self.prob(tuple(padded[i - self.order + 1 : i]), padded[i])))
        return out


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_it_gives_distributions_that_sum_to_one_for_seen_and_unseen_contexts(order: int) -> None:
    train = random_pieces(0, 40)
    model = KneserNey(order, VOCAB, bos=BOS, eos=EOS).fit(train)
    seen = tuple(int(t) for t in train[0][: order - 1])
    assert len(seen) == order - 1
    contexts = {
        "seen": seen,
        "unseen, with a seen suffix": (UNSEEN, *seen[1:])[: order - 1],
        "unseen throughout": (UNSEEN,) * (order - 1),
    }
    for name, context in contexts.items():
        probs = next_token_probs(model, context)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12), name
        assert (probs > 0).all(), name


def test_it_lowers_the_nll_with_a_higher_order_on_repetitive_data() -> None:
    rng = np.random.default_rng(1)
    motif = np.array([0, 1, 2, 3, 2, 1, 4, 5, 4, 1])

    def pieces(count: int) -> list[np.ndarray]:
        return [np.roll(np.tile(motif, 5), rng.integers(10)) for _ in range(count)]

    train, test = pieces(30), pieces(10)
    nlls = [KneserNey(order, VOCAB, bos=BOS, eos=EOS).fit(train).nll(test)[0] for order in (1, 2, 3, 4)]
    assert nlls == sorted(nlls, reverse=True) and len(set(nlls)) == 4


# In the second, every token has two distinct predecessors, so the unigram level has no singletons
# and n1 / (n1 + 2 n2) would be 0, leaving nothing for the uniform distribution.
@pytest.mark.parametrize("train", [random_pieces(2, 20), [np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0])]])
def test_it_gives_unseen_tokens_a_finite_nll(train: list[np.ndarray]) -> None:
    model = KneserNey(2, VOCAB, bos=BOS, eos=EOS).fit(train)
    log_probs = model.token_log_probs([np.array([UNSEEN, 8, BOS, 9, 0, 1])])
    assert np.isfinite(log_probs).all() and (log_probs < 0).all()


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_it_agrees_with_a_straightforward_reference_on_random_data(order: int) -> None:
    train, test = random_pieces(3, 25, high=7), random_pieces(4, 10, high=VOCAB)
    model = KneserNey(order, VOCAB, bos=BOS, eos=EOS).fit(train)
    reference = Reference(order, train)
    np.testing.assert_allclose(model.token_log_probs(test), reference.log_probs(test), rtol=1e-12)


def test_it_reports_total_nats_over_each_token_and_one_eos_per_piece() -> None:
    model = KneserNey(3, VOCAB, bos=BOS, eos=EOS).fit(random_pieces(5, 10))
    test = [np.array([1, 2, 3]), np.array([], dtype=np.int64), np.array([4])]
    total, count = model.nll(test)
    assert count == (3 + 1) + (0 + 1) + (1 + 1)
    assert total == pytest.approx(-model.token_log_probs(test).sum())


def test_it_refuses_token_ids_outside_the_vocabulary_and_orders_too_large_for_its_keys() -> None:
    model = KneserNey(3, VOCAB, bos=BOS, eos=EOS)
    with pytest.raises(ValueError, match="token ids"):
        model.fit([np.array([1, VOCAB])])
    with pytest.raises(ValueError, match="int64"):
        KneserNey(8, 600, bos=0, eos=1)
