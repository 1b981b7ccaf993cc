"""The adversarial scenario family: harvesting operations with a knob for each evasion, and
the legitimate customers a detector is most likely to hurt (hard negatives).

``distillguard simulate --scenario adversarial`` mixes the ordinary legitimate personas, every
hard negative and every operation; ``distillguard evaluate`` then reports recall per evasion
knob and false positives per hard-negative persona. docs/simulator.md describes each knob.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distillguard.sim.actors import Group

HARD_NEGATIVE_MIX = {
    "native_stepwise": 0.12,
    "campus_class": 0.08,
    "judge_lab": 0.05,
    "release_eval": 0.05,
    "agent_product_user": 0.08,
    "finetune_customer": 0.04,
    "org_fleet": 0.03,
}
"""Share of the legitimate traffic of the ``adversarial`` scenario per hard negative."""

OPERATION_MIX = {
    "adv_base": 0.07,
    "adv_paraphrase": 0.08,
    "adv_jitter": 0.07,
    "adv_residential": 0.07,
    "adv_aged": 0.07,
    "adv_volume": 0.08,
    "adv_payment": 0.07,
    "adv_mixed": 0.07,
    "adv_rotate_stack": 0.07,
    "adv_low_and_slow": 0.15,
    "adv_agentic": 0.08,
    "adv_grader": 0.11,
}
"""Share of the attack traffic of the ``adversarial`` scenario per operation."""


def ADVERSARIAL_GROUPS() -> dict[str, Group]:
    """Every hard negative and operation as a simulator group, by name."""
    from distillguard.sim.actors import Group
    from distillguard.sim.adversarial.attackers import OPERATIONS, operation
    from distillguard.sim.adversarial.customers import HARD_NEGATIVES

    out: dict[str, Group] = {}
    for name, (build, desc) in HARD_NEGATIVES.items():
        out[name] = Group(name, "legit", None, build, desc)
    for name, (op, desc) in OPERATIONS.items():
        out[name] = Group(name, "attack", op.campaign_id, operation(name, op), desc)
    return out
