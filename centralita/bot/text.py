"""Comparing what customers type: case, accents and surrounding punctuation do not matter."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_WORD = re.compile(r"\w+")
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=4096)  # menu labels and keys are folded on every reply; they repeat
def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced, without punctuation at either end."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _SPACES.sub(" ", plain.casefold()).strip()
    return _EDGE_PUNCTUATION.sub("", plain)


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def contains_phrase(haystack: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether the word sequence `phrase` occurs in `haystack` as whole words."""
    if not phrase:
        return False
    # Compare as lists: the flow keeps phrases as tuples, and a list never equals a tuple.
    wanted = list(phrase)
    size = len(wanted)
    return any(list(haystack[i : i + size]) == wanted for i in range(len(haystack) - size + 1))
