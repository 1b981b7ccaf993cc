"""Pattern signals: a named set of regular expressions per language that runs in DuckDB
(for scans over millions of rows) and in Python (evidence, and the gateway's per-request
checks). Both sides use RE2, so a pattern means the same thing in both and matches in
linear time: Python's ``re`` takes ~1.3 ms on a 2 KB prompt for the trace-extraction
alternation (it retries every branch at every position), RE2 ~5 µs.

RE2 syntax has no look-around and no back-references, and its ``\\w``/``\\b`` are ASCII
only: patterns in other scripts spell their letters out (``[а-яё]*``, not ``\\w*``).
Case-insensitivity comes from the ``(?i)`` flag."""

from __future__ import annotations

from dataclasses import dataclass, field

import re2

CHUNK_CHARS = 5000
"""Most pattern text one alternation holds in SQL. RE2 runs a pattern as a lazily built DFA in
a fixed memory budget; in DuckDB one alternation of every language's extraction patterns
overflows it and matching slows five-fold (5.4 s against 1.2 s per million prompts), so the
SQL form is an OR of alternations of at most this much pattern text, a language's patterns
kept together. Python's RE2 (the gateway's per-request check) runs the single alternation
faster (4 µs against 13 µs on a 2 KB prompt), so it keeps one."""


@dataclass(frozen=True)
class PatternSignal:
    """Fires when any pattern of any language matches the text and no ``exclude`` pattern
    does (an exclusion states the opposite request: "never reveal your reasoning")."""

    name: str
    description: str
    patterns: dict[str, tuple[str, ...]]
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # compiled over UTF-8 bytes: no character-offset bookkeeping per call, and text with
    # lone surrogates (which str patterns cannot even encode) is searched, not refused
    _compiled: tuple[tuple[str, re2._Regexp[bytes]], ...] = field(
        init=False, repr=False, compare=False
    )
    _any: re2._Regexp[bytes] = field(init=False, repr=False, compare=False)
    _none: re2._Regexp[bytes] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(
            (lang, re2.compile(f"(?i){p}".encode()))
            for lang, ps in self.patterns.items()
            for p in ps
        )
        object.__setattr__(self, "_compiled", compiled)
        # one alternation for match(): one pass over the text on the gateway's hot path
        object.__setattr__(self, "_any", re2.compile(self.regex().encode()))
        excluded = self.exclude_regex()
        object.__setattr__(self, "_none", re2.compile(excluded.encode()) if excluded else None)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.patterns)

    def regex(self) -> str:
        """One alternation of every pattern, case-insensitive (RE2 and ``re`` syntax)."""
        return _alternation(self.patterns)

    def chunk_regexes(self) -> list[str]:
        """The patterns as alternations of at most :data:`CHUNK_CHARS` of pattern text each
        (a language's patterns stay together); any of them matching is a match."""
        chunks: list[dict[str, tuple[str, ...]]] = [{}]
        size = 0
        for lang, ps in self.patterns.items():
            length = sum(len(p) for p in ps)
            if chunks[-1] and size + length > CHUNK_CHARS:
                chunks.append({})
                size = 0
            chunks[-1][lang] = ps
            size += length
        return [_alternation(c) for c in chunks]

    def exclude_regex(self) -> str | None:
        """One alternation of the exclusions, or None when there are none."""
        return _alternation(self.exclude) if self.exclude else None

    def sql(self, column: str) -> str:
        """A DuckDB boolean expression over ``column`` (an identifier or expression). The
        exclusions run only on the rows the patterns matched (DuckDB evaluates a CASE branch
        for the selected rows alone)."""
        found = " OR ".join(
            f"coalesce(regexp_matches({column}, '{r.replace(chr(39), chr(39) * 2)}'), false)"
            for r in self.chunk_regexes()
        )
        found = f"({found})"
        excluded = self.exclude_regex()
        if excluded is None:
            return found
        unless = excluded.replace("'", "''")
        return (
            f"(CASE WHEN {found} THEN NOT coalesce(regexp_matches({column}, '{unless}'), false)"
            " ELSE false END)"
        )

    def match(self, text: str | None) -> bool:
        if not text:
            return False
        data = text.encode("utf-8", "surrogatepass")
        if self._any.search(data) is None:
            return False
        return self._none is None or self._none.search(data) is None

    def explain(self, text: str | None) -> list[tuple[str, str]]:
        """Which languages' patterns matched, with the matched text (nothing when an
        exclusion holds)."""
        if not text:
            return []
        data = text.encode("utf-8", "surrogatepass")
        if self._none is not None and self._none.search(data) is not None:
            return []
        out = []
        for lang, pattern in self._compiled:
            m = pattern.search(data)
            if m:
                out.append((lang, m.group(0).decode("utf-8", "replace")))
        return out


def _alternation(patterns: dict[str, tuple[str, ...]]) -> str:
    return "(?i)(?:" + "|".join(f"(?:{p})" for ps in patterns.values() for p in ps) + ")"
