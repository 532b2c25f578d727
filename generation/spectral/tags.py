"""Tags: the words a recording is described by and a prompt is made of. No torch here: the
platform checks a dataset file's tags with these rules when they are given."""

import re
from typing import Any

TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TAGS = 16  # on one file
MAX_CAPTION = 500


class PromptError(ValueError):
    """A prompt with a word the model does not know; the message lists the words it does."""


def tags_clean(tags: Any) -> list[str]:
    """A file's tags: lower-case words (letters, digits, hyphens; up to 32 characters), at most
    MAX_TAGS, each once, sorted. A list, or a string of words split at spaces and commas. A
    ValueError says which one is wrong."""
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[\s,]+", tags) if t]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("tags must be a list of words")
    clean = sorted({t.strip().lower() for t in tags if t.strip()})
    bad = [t for t in clean if not TAG.match(t)]
    if bad:
        raise ValueError(f"{bad[0][:40]!r} is not a tag: use letters, digits and hyphens, up to 32 characters")
    if len(clean) > MAX_TAGS:
        raise ValueError(f"a file has at most {MAX_TAGS} tags, not {len(clean)}")
    return clean


def caption_clean(caption: Any) -> str:
    if not isinstance(caption, str):
        raise ValueError("a caption is text")
    if len(caption) > MAX_CAPTION or any(ord(c) < 32 and c not in "\t" for c in caption):
        raise ValueError(f"a caption is one line of at most {MAX_CAPTION} characters")
    return caption.strip()


def prompt_tags(prompt: str, vocabulary: list[str]) -> list[str]:
    """The prompt's words as tags of the vocabulary, or a PromptError naming the first unknown
    word and listing the vocabulary. An empty prompt is the unconditioned model."""
    words = [w for w in re.split(r"[\s,;]+", prompt.strip().lower()) if w]
    unknown = [w for w in words if w not in vocabulary]
    if unknown:
        raise PromptError(f"the model knows no tag {unknown[0][:40]!r}; its tags are {', '.join(vocabulary)}")
    return sorted(set(words))
