"""Keyed pseudonyms for personal data that leaves the system (reports, shared indicators).

``HMAC-SHA256(key, kind NUL normalised value)``: partners holding the same key derive the
same pseudonym for the same e-mail address or payment method and can match, while nobody
without the key can reverse even a low-entropy value by guessing (a plain hash of an e-mail
address can be brute-forced from a list of addresses; a keyed one cannot).

Two keys: the **consortium key** of a sharing group (``intel.consortium_key``, from the
environment, never from the repository) for shared indicators, and a **local key** kept
beside the store (created on first use, mode 0600) for reports, so pseudonyms in reports are
stable across runs but mean nothing outside this installation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from distillguard.config import Settings
from distillguard.errors import ConfigError

MIN_KEY_CHARS = 16


def normalise(kind: str, value: str) -> str:
    value = value.strip()
    return value.lower() if kind in {"email", "email_domain", "email_stem"} else value


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """A 32-hex-digit keyed pseudonym of ``value`` of the given kind."""
    msg = f"{kind}\x00{normalise(kind, value)}".encode("utf-8", "surrogatepass")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def consortium_key(settings: Settings) -> bytes:
    secret = settings.intel.consortium_key
    if secret is None:
        raise ConfigError(
            "no consortium key: set DISTILLGUARD_INTEL__CONSORTIUM_KEY (the secret your sharing "
            "group agreed on) or intel.consortium_key in the config file"
        )
    value = secret.get_secret_value()
    if len(value) < MIN_KEY_CHARS:
        raise ConfigError(f"intel.consortium_key: use at least {MIN_KEY_CHARS} characters")
    return value.encode("utf-8")


def local_key(db: Path) -> bytes:
    """The installation's own key, ``<db>.data/pseudonym.key`` (created once, 0600)."""
    path = Path(f"{db}.data") / "pseudonym.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
