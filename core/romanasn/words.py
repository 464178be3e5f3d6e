"""Words for people: counts with their plurals, and the names a user may have meant ("did you mean")."""

from __future__ import annotations

import difflib
from typing import Iterable

CUTOFF = 0.6


def close_names(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The ``choices`` closest to ``word``, best first: at most ``n``, none much worse than the best."""
    scored = []
    for choice in sorted(set(choices)):
        score = difflib.SequenceMatcher(None, word, choice).ratio()
        if score >= CUTOFF:
            scored.append((-score, choice))
    scored.sort()
    return [choice for score, choice in scored[:n] if -score >= -scored[0][0] - 0.1]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` (or ``X or Y``) when a choice is close to ``word``, else ``""``."""
    found = close_names(word, choices)
    return f"; did you mean {' or '.join(found)}?" if found else ""


def count(number: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``3,581 associations`` (``noun`` takes an s when not 1)."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
