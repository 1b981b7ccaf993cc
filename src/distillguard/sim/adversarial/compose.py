"""Every prompt composer the simulator can use in a profile's ``composers``, by name."""

from __future__ import annotations

import random
from collections.abc import Callable

from distillguard.sim.adversarial.benign_text import stepwise
from distillguard.sim.adversarial.phrasing import coding_request, grading_request, reasoning_request

Composer = Callable[[random.Random, str, str, str], str]


def _stepwise(r: random.Random, task: str, lang: str, answer: str) -> str:
    return stepwise(r, task, lang)


COMPOSERS: dict[str, Composer] = {
    "reasoning": reasoning_request,
    "grading": grading_request,
    "coding": coding_request,
    "stepwise": _stepwise,
}
"""Composer name → function(r, task, lang, answer) → prompt text."""
