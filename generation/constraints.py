"""What a model may emit at each position: the tokens its training data had there.

Training records, in the checkpoint, the set of tokens seen at each position of a frame (the
chorale encoding's frame is one 16th: soprano, alto, tenor, bass, so each voice keeps its own
range; other encodings have one position). Sampling and beam search give every other token
zero probability, so no piece has a soprano below the training sopranos' lowest note, a pitch no
voice ever sang, or an end in the middle of a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from generation.tokenizers import ChoraleTokenizer, Tokenizer, frame_period

RULE = "only tokens the training data has at this position of the frame"
VOICES = ("soprano", "alto", "tenor", "bass")


def allowed_record(sequences: Sequence[tuple[np.ndarray, int]], tokenizer: Tokenizer) -> dict[str, Any]:
    """The tokens at each position of the frame in the training pieces (and where EOS falls)."""
    period = frame_period(tokenizer)
    seen: list[set[int]] = [set() for _ in range(period)]
    for tokens, _ in sequences:
        framed = np.concatenate([tokens, [tokenizer.eos]]).astype(np.int64)
        for position in range(period):
            seen[position].update(np.unique(framed[position::period]).tolist())
    return {"period": period, "tokens": [sorted(s) for s in seen]}


def allowed_mask(record: dict[str, Any] | None, vocab_size: int, device: torch.device | str) -> torch.Tensor | None:
    """(period, vocab) additive mask: 0 where allowed, -inf elsewhere; None without a record."""
    if not record:
        return None
    mask = torch.full((record["period"], vocab_size), float("-inf"), device=device)
    for position, tokens in enumerate(record["tokens"]):
        mask[position, tokens] = 0.0
    return mask


def allowed_summary(record: dict[str, Any] | None, tokenizer: Tokenizer) -> dict[str, Any] | None:
    """What the sampler's provenance says: the rule and, for chorales, each voice's range."""
    if not record:
        return None
    summary: dict[str, Any] = {"rule": RULE, "period": record["period"]}
    if isinstance(tokenizer, ChoraleTokenizer):
        first = ChoraleTokenizer.FIRST_PITCH
        pitches = [[t - first for t in tokens if t >= first] for tokens in record["tokens"]]
        summary["ranges"] = {voice: [min(p), max(p)] for voice, p in zip(VOICES, pitches, strict=True) if p}
    else:
        summary["tokens"] = len(record["tokens"][0])
    return summary
