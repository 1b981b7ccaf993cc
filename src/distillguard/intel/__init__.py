"""Indicator sharing: STIX 2.1 export, TAXII 2.1 push/pull, and matching partners' indicators
against our traffic (docs/intel.md)."""

from distillguard.intel.match import (
    MatchResult,
    apply_to_findings,
    indicators_of,
    match,
    read_bundles,
)
from distillguard.intel.stix import export_bundle
from distillguard.intel.taxii import pull, push

__all__ = [
    "MatchResult",
    "apply_to_findings",
    "export_bundle",
    "indicators_of",
    "match",
    "pull",
    "push",
    "read_bundles",
]
