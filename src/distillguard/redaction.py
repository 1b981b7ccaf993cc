"""Masking secrets and personal data in text that leaves the system (reports, the console).

Two maintained detectors do the finding, rather than a list of patterns kept here:

- **Secrets**: the regular-expression plugins of Yelp's `detect-secrets` (Apache-2.0): AWS,
  Azure, GitHub, GitLab, Slack, Stripe, Twilio, SendGrid, npm, PyPI, Discord, Telegram,
  JSON Web Tokens, private-key blocks, and the others it ships. Each match is masked whole
  (the plugins report a capture group, which for some is only the token's prefix).
- **Personal data**: Microsoft Presidio's pattern recognisers (MIT), which validate what
  they match (IBAN check digits, the Luhn sum of card numbers, the SSN rules) and cover
  e-mail addresses, IPv4 and IPv6 addresses, IBANs, payment cards, US SSNs, UK National
  Insurance numbers and phone numbers (through Google's libphonenumber). Only the pattern
  recognisers are used: no language model is loaded, nothing is fetched from the network.

Conventions no detector covers are masked here: an e-mail address spelled out to dodge
filters ("name at domain dot com"), any ``name@host.domain`` (Presidio keeps only addresses
under a public suffix; internal and reserved domains such as ``.internal`` or ``.example``
are addresses too), bearer-style API keys (``sk-…``), and URLs. Runs of 6 or
more digits, which in a prompt are account, order or phone numbers far more often than
quantities, are masked too. Masks name the kind, for example ``[email]`` or ``[secret]``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

import re2

# Hand-written patterns run on RE2 (linear time): prompt text is attacker-controlled, and
# with Python's backtracking engine the spelled-out e-mail pattern alone took 18 s on a
# 77-character string of "b dot b dot …". RE2's \w and \b are ASCII, hence the explicit
# Unicode classes.
_WORD = r"[\pL\pN_-]"
_AT = r"(?:\s*[\[(<{]?\s*[Aa][Tt]\s*[\])>}]?\s*|\s?@\s?)"
_DOT = r"(?:\s*[\[(<{]?\s*[Dd][Oo][Tt]\s*[\])>}]?\s*|\.)"
_OBFUSCATED_EMAIL = re2.compile(
    rf"[\pL\pN_.+-]+{_AT}{_WORD}+(?:{_DOT}{_WORD}+)*{_DOT}[A-Za-z][A-Za-z]+"
)
_SPELLED = re2.compile(r"(?i)\b(?:at|dot)\b")
_SEPARATOR = re2.compile(r"(?i)\s*[\[(<{]?\s*(?:\bat\b|@|\bdot\b|\.)\s*[\])>}]?\s*")
_TOKEN_TAIL = re2.compile(r"[A-Za-z0-9_\-+/=.]*")
_PEM_END = re2.compile(r"-----END [A-Z ]*-----")
_EMAIL = re2.compile(r"[\pL\pN_.+-]+@[\pL\pN_-]+(?:\.[\pL\pN_-]+)+")
_BEARER_KEY = re2.compile(r"\b(?:sk|pk|rk|key|tok)[-_][A-Za-z0-9_-]{8,}")
_URL = re2.compile(r"(?i)\bhttps?://\S+")
_DIGITS = re2.compile(r"\d{6,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MIN_SCORE = 0.3
"""Presidio scores below this are context-free guesses (a bare 9-digit number as an SSN)."""

_MASKS = {
    "EMAIL_ADDRESS": "[email]",
    "IP_ADDRESS": "[ip]",
    "IBAN_CODE": "[iban]",
    "CREDIT_CARD": "[card]",
    "US_SSN": "[ssn]",
    "UK_NINO": "[national-id]",
    "PHONE_NUMBER": "[phone]",
}

Span = tuple[int, int, str]


@functools.cache
def _secret_patterns() -> tuple[re.Pattern[str], ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    patterns: list[re.Pattern[str]] = []
    plugin: Any
    for plugin in get_mapping_from_secret_type_to_class().values():
        # IPs are personal data (Presidio); keyword and entropy plugins read source files
        if issubclass(plugin, RegexBasedDetector) and plugin.__name__ != "IPPublicDetector":
            patterns.extend(plugin().denylist)
    return tuple(patterns)


@functools.cache
def _recognisers() -> tuple[Any, ...]:
    # Presidio logs every recogniser it builds; its e-mail check would fetch the public
    # suffix list from the network, so it uses tldextract's bundled snapshot instead
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    class _OfflineEmail(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(_suffixes()(pattern_text).fqdn)

    return (
        _OfflineEmail(),
        IpRecognizer(),
        IbanRecognizer(),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        UkNinoRecognizer(),
        PhoneRecognizer(),
    )


def load() -> None:
    """Build the recognisers now; otherwise the first redaction in a process pays for them
    (about a second: Presidio imports spaCy)."""
    _recognisers()
    _secret_patterns()


def _personal(text: str) -> list[Span]:
    spans: list[Span] = []
    for recogniser in _recognisers():
        for hit in recogniser.analyze(text, recogniser.supported_entities, None):
            if hit.score >= _MIN_SCORE:
                spans.append((hit.start, hit.end, _MASKS.get(hit.entity_type, "[personal]")))
    return spans


def _matches(pattern: Any, text: str, mask: str) -> list[Span]:
    return [(m.start(), m.end(), mask) for m in pattern.finditer(text)]


def _secrets(text: str) -> list[Span]:
    """Secrets, each extended over the rest of its token (some plugins match a prefix) and,
    for a PEM block, down to its END line."""
    spans: list[Span] = []
    for pattern in _secret_patterns():
        for m in pattern.finditer(text):
            end = _TOKEN_TAIL.match(text, m.end()).end()  # type: ignore[union-attr]
            if "PRIVATE KEY" in m.group(0):
                block = _PEM_END.search(text, m.end())
                end = block.end() if block else len(text)
            start = m.start()
            while start > 0 and text[start - 1] == "-":
                start -= 1  # a PEM header's dashes
            spans.append((start, end, "[secret]"))
    return spans


def _obfuscated_emails(text: str) -> list[Span]:
    """``name at domain dot com``: at least one spelled-out "at" or "dot" (a plain address
    is Presidio's), and a domain that ends in a real public suffix."""
    spans: list[Span] = []
    for m in _OBFUSCATED_EMAIL.finditer(text):
        if not _SPELLED.search(m.group(0)):
            continue
        address = _SEPARATOR.sub(lambda s: "@" if "at" in s.group(0).lower() else ".", m.group(0))
        domain = address.rsplit("@", 1)[-1]
        if _suffixes()(domain).suffix:
            spans.append((m.start(), m.end(), "[email]"))
    return spans


@functools.cache
def _suffixes() -> Any:
    import tldextract

    # the public suffix list tldextract ships: nothing is fetched from the network
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


_FINDERS: tuple[Callable[[str], list[Span]], ...] = (
    _secrets,
    lambda t: _matches(_BEARER_KEY, t, "[secret]"),
    _personal,
    _obfuscated_emails,
    lambda t: _matches(_EMAIL, t, "[email]"),
    lambda t: _matches(_URL, t, "[url]"),
    lambda t: _matches(_DIGITS, t, "[number]"),
)


def redact(text: str) -> str:
    """``text`` with every secret and piece of personal data found replaced by its mask.

    Overlapping finds are merged (the earliest-starting, then the longest, wins), so a
    token inside a URL or a number inside an IBAN is masked once."""
    # RE2 takes UTF-8: a lone surrogate (which a str may hold) becomes U+FFFD first
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    spans = sorted(
        (s for find in _FINDERS for s in find(text) if s[1] > s[0]),
        key=lambda s: (s[0], -s[1]),
    )
    out: list[str] = []
    at = 0
    for start, end, mask in spans:
        if end <= at:
            continue  # inside a span already masked
        if start < at:  # overlaps the previous mask: that mask now covers this too
            at = end
            continue
        out.append(text[at:start])
        out.append(mask)
        at = end
    out.append(text[at:])
    return "".join(out)
