"""The simulator and the detector must not share text.

A detector that restates the simulator's templates scores perfectly on the simulator and
poorly on anything else. This test reads the text every signal pattern writes out (runs of
words separated only by spaces or ``\\s``, within one alternative) and fails when
any run of four words (or eight characters of Chinese or Japanese, which are written without
spaces) also occurs in the simulator's text: every string constant of the
``distillguard.sim`` package other than docstrings. The same check covers every string of
``detection.yaml``. A pattern may still *match* the simulator's requests (that is detection);
it may not *contain* them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from re import _parser as sre_parse  # type: ignore[attr-defined]
from re._constants import (  # type: ignore[import-not-found]
    AT,
    BRANCH,
    CATEGORY,
    CATEGORY_SPACE,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    SUBPATTERN,
)

import yaml

import distillguard
from distillguard.detection.signals import TEXT_SIGNALS

PACKAGE = Path(distillguard.__file__).parent
BREAK = "\x00"

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _is_space(item: object) -> bool:
    """A whitespace class (``\\s``, ``[ \\t]``), bare or as the one node of a sub-pattern."""
    if isinstance(item, sre_parse.SubPattern):
        item = list(item)
    if isinstance(item, list) and len(item) == 1 and item[0][0] == IN:
        item = item[0][1]
    if not isinstance(item, list) or not item:
        return False
    return all(
        (op == CATEGORY and arg == CATEGORY_SPACE) or (op == LITERAL and chr(arg).isspace())
        for op, arg in item
    )


def _written(pattern: sre_parse.SubPattern | list[tuple[object, object]]) -> list[str]:
    """The literal text a pattern writes out: runs of characters and whitespace at one level,
    each broken by any other construct; every alternative of a group and every optional or
    repeated part is read as text of its own."""
    out: list[str] = []
    run = ""
    for op, arg in pattern:
        if op == LITERAL:
            run += chr(arg)  # type: ignore[arg-type]
            continue
        if op == AT:
            continue
        if op in (MAX_REPEAT, MIN_REPEAT) and _is_space(arg[2]):  # type: ignore[index]
            run += " "
            continue
        if op == IN and _is_space(arg):
            run += " "
            continue
        out.append(run)
        run = ""
        if op == BRANCH:
            for alt in arg[1]:  # type: ignore[index]
                out += _written(alt)
        elif op == SUBPATTERN:
            out += _written(arg[-1])  # type: ignore[index]
        elif op in (MAX_REPEAT, MIN_REPEAT):
            out += _written(arg[2])  # type: ignore[index]
    out.append(run)
    return [r for r in out if r.strip()]


def _runs(text: str) -> Iterator[tuple[str, ...]]:
    """Every four-word run (and eight-character run of CJK script) in ``text``."""
    for chunk in text.lower().split(BREAK):
        words: list[str] = []
        for word in _WORD.findall(chunk):
            if _CJK.search(word):
                cjk = "".join(_CJK.findall(word))
                for i in range(max(len(cjk) - 7, 0)):
                    yield (cjk[i : i + 8],)
                words = []
                continue
            words.append(word)
            if len(words) >= 4:
                yield tuple(words[-4:])


def pattern_runs(pattern: str) -> set[tuple[str, ...]]:
    return {run for s in _written(sre_parse.parse(pattern)) for run in _runs(s)}


def simulator_strings() -> list[str]:
    """Every string constant of the simulator package that is not a docstring."""
    out: list[str] = []
    for path in sorted((PACKAGE / "sim").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                out.append(node.value)
    return out


def _yaml_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _yaml_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _yaml_strings(v)


def _simulator_runs() -> set[tuple[str, ...]]:
    # format fields ({task}, {np}) join the text around them as breaks
    return {run for s in simulator_strings() for run in _runs(re.sub(r"\{[^{}]*\}", BREAK, s))}


def test_no_signal_pattern_shares_four_words_with_the_simulator() -> None:
    sim = _simulator_runs()
    assert len(sim) > 1_000  # the simulator's text was read
    shared = {
        (signal.name, run)
        for signal in TEXT_SIGNALS
        for group in (signal.patterns, signal.exclude)
        for patterns in group.values()
        for p in patterns
        for run in pattern_runs(p) & sim
    }
    assert not shared, sorted(shared)[:20]


def test_detection_yaml_shares_no_four_words_with_the_simulator() -> None:
    sim = _simulator_runs()
    data = yaml.safe_load((PACKAGE / "detection.yaml").read_text(encoding="utf-8"))
    shared = {run for s in _yaml_strings(data) for run in _runs(s) if run in sim}
    assert not shared, sorted(shared)[:20]


def test_the_check_finds_a_pattern_that_restates_simulator_text() -> None:
    """The check can fail: a pattern copied from the simulator's text is caught, with
    ``\\s+`` between its words, inside an alternative, and in Chinese."""
    sim = _simulator_runs()
    from distillguard.sim.adversarial import phrasing

    english = phrasing._EN_SHAPES[1].split(". ")[1]  # a sentence of the attacker's wording
    words = english.split()
    assert pattern_runs(r"\s+".join(words[:5])) & sim
    assert pattern_runs(r"(?:hello|" + r"\s+".join(words[:4]) + r")\b") & sim
    chinese = phrasing._PHRASES["zh"][1][3].split("\n")[1][:12]
    assert pattern_runs(re.escape(chinese)) & sim
    assert not pattern_runs(r"\bplease\s+(?:show|give)\s+the\s+zebra\s+crossing\b") & sim


def test_reading_the_text_a_pattern_writes() -> None:
    assert pattern_runs(r"\ba\s+b\s+c\s+d\s+e\b") == {("a", "b", "c", "d"), ("b", "c", "d", "e")}
    assert pattern_runs(r"x|(?:a b c d)") == {("a", "b", "c", "d")}
    assert pattern_runs(r"(?:a|b)\s+c\s+d\s+e") == set()  # an alternation breaks the run
    assert pattern_runs(r"a b [^.]* c d") == set()  # so does a gap of any text
    assert pattern_runs("一二三四五六七八九") == {("一二三四五六七八",), ("二三四五六七八九",)}
