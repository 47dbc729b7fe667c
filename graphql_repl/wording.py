"""How messages word things: plurals, and the names a mistyped one may have meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def plural(count: int, word: str) -> str:
    """``word``, or its plural for a ``count`` other than one (1 change, 2 changes)."""
    return word if count == 1 else f"{word}s"


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``" (did you mean 'Note'?)"`` for the name of ``names`` closest to ``name`` (letter
    case aside), or ``""`` when none is close."""
    by_folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.75)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""
