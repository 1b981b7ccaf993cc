"""The indicator kinds we share, their STIX patterns, and parsing them back.

One table drives both directions, so what ``export`` writes ``match`` can read:

| kind | STIX pattern | strength when matching |
|---|---|---|
| ip | ``[ipv4-addr:value = '203.0.113.7']`` | weak |
| subnet | ``[ipv4-addr:value ISSUBSET '203.0.113.0/24']`` | weak |
| asn | ``[autonomous-system:number = 64500]`` | context only (never matches alone or as a pair) |
| user-agent | ``[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '…']`` | weak |
| email-domain | ``[email-addr:value LIKE '%@example.org']`` | weak |
| client-fingerprint | ``[x-llm-client:fingerprint = '…']`` | strong |
| email-pseudonym | ``[x-llm-account:email_hmac = '…']`` | strong |
| payment-pseudonym | ``[x-llm-account:payment_hmac = '…']`` | strong |
| prompt-template | ``[x-llm-prompt:template_minhash = 'mh1:64:…']`` | strong (by estimated Jaccard ≥ 0.6) |

An account matches a partner's campaign on one strong indicator, or on weak indicators of
at least two different kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRONG = frozenset(
    {"client-fingerprint", "email-pseudonym", "payment-pseudonym", "prompt-template"}
)
WEAK = frozenset({"ip", "subnet", "user-agent", "email-domain"})
CONTEXT = frozenset({"asn"})
KINDS = STRONG | WEAK | CONTEXT


def quote(value: str) -> str:
    """A STIX pattern string literal: backslash and single quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_STRING_PATHS = {
    "user-agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
    "client-fingerprint": "x-llm-client:fingerprint",
    "email-pseudonym": "x-llm-account:email_hmac",
    "payment-pseudonym": "x-llm-account:payment_hmac",
    "prompt-template": "x-llm-prompt:template_minhash",
}
"""Kinds whose pattern is ``[<path> = '<value>']``; the other kinds are special below."""


def pattern(kind: str, value: str | int) -> str:
    v = str(value)
    obj = "ipv6-addr" if ":" in v else "ipv4-addr"
    if kind in _STRING_PATHS:
        return f"[{_STRING_PATHS[kind]} = {quote(v)}]"
    if kind == "ip":
        return f"[{obj}:value = {quote(v)}]"
    if kind == "subnet":
        return f"[{obj}:value ISSUBSET {quote(v)}]"
    if kind == "asn":
        return f"[autonomous-system:number = {int(value)}]"
    if kind == "email-domain":
        return f"[email-addr:value LIKE {quote('%@' + v)}]"
    raise ValueError(f"unknown indicator kind {kind!r}")


_STR = r"'((?:[^'\\]|\\.)*)'"
_PARSERS: list[tuple[str, re.Pattern[str]]] = [
    ("subnet", re.compile(rf"^\[ipv[46]-addr:value ISSUBSET {_STR}\]$")),
    ("ip", re.compile(rf"^\[ipv[46]-addr:value = {_STR}\]$")),
    ("asn", re.compile(r"^\[autonomous-system:number = (\d+)\]$")),
    ("email-domain", re.compile(r"^\[email-addr:value LIKE '%@((?:[^'\\]|\\.)*)'\]$")),
    *(
        (kind, re.compile(rf"^\[{re.escape(path)} = {_STR}\]$"))
        for kind, path in _STRING_PATHS.items()
    ),
]
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Parsed:
    kind: str
    value: str


def parse(text: str) -> Parsed | None:
    """The (kind, value) of a pattern we understand; ``None`` for any other pattern."""
    text = text.strip()
    for kind, rx in _PARSERS:
        m = rx.match(text)
        if m:
            return Parsed(kind, _UNESCAPE.sub(r"\1", m.group(1)))
    return None
