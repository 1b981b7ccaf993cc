"""Pattern signals: a named set of regular expressions per language that runs both in
DuckDB (RE2, for scans over millions of rows) and in Python (``re``, for tests and the
gateway's per-request checks). Patterns keep to the syntax both engines share: no
look-around, no back-references; case-insensitivity comes from the ``(?i)`` flag."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PatternSignal:
    """Fires when any pattern of any language matches the text."""

    name: str
    description: str
    patterns: dict[str, tuple[str, ...]]
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(
        init=False, repr=False, compare=False
    )
    _any: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(
            (lang, re.compile(p, re.IGNORECASE)) for lang, ps in self.patterns.items() for p in ps
        )
        object.__setattr__(self, "_compiled", compiled)
        # one alternation for match(): one pass over the text on the gateway's hot path
        object.__setattr__(self, "_any", re.compile(self.regex()))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.patterns)

    def regex(self) -> str:
        """One alternation of every pattern, case-insensitive (RE2 and ``re`` syntax)."""
        return "(?i)(?:" + "|".join(f"(?:{p})" for ps in self.patterns.values() for p in ps) + ")"

    def sql(self, column: str) -> str:
        """A DuckDB boolean expression over ``column`` (an identifier or expression)."""
        literal = self.regex().replace("'", "''")
        return f"coalesce(regexp_matches({column}, '{literal}'), false)"

    def match(self, text: str | None) -> bool:
        return bool(text) and self._any.search(text) is not None  # type: ignore[arg-type]

    def explain(self, text: str | None) -> list[tuple[str, str]]:
        """Which languages' patterns matched, with the matched text."""
        if not text:
            return []
        out = []
        for lang, pattern in self._compiled:
            m = pattern.search(text)
            if m:
                out.append((lang, m.group(0)))
        return out
