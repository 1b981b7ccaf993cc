"""What the console keeps: its users (password hashes), analysts' labels, campaign statuses
and the audit log of every action, in one SQLite file readable by its owner only.

Passwords are hashed with scrypt (``hashlib``, n=2**14, r=8, p=1, a 16-byte salt). Labels are
kept with who and when, every change a new row; the latest label of an account is what
``scan --labels`` learns from (it reads this file directly).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from distillguard.errors import InputError

Role = Literal["viewer", "analyst"]
ROLES: tuple[Role, ...] = ("viewer", "analyst")
STATUSES = ("new", "in review", "confirmed", "dismissed")
LABELS = ("attack", "legit")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL,
                                  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, account_id TEXT NOT NULL,
                                   label TEXT NOT NULL, note TEXT, campaign TEXT,
                                   by TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS labels_account ON labels (account_id, id);
CREATE TABLE IF NOT EXISTS statuses (cluster_id TEXT PRIMARY KEY, status TEXT NOT NULL,
                                     by TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL,
                                  action TEXT NOT NULL, target TEXT, detail TEXT);
"""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def can_act(self) -> bool:
        return self.role == "analyst"


class ConsoleState:
    """The console's SQLite file. Each call opens its own connection (the server runs
    requests on threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # labels and notes name accounts: readable by the owner only
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10)
        try:
            with con:
                yield con
        finally:
            con.close()

    # -- users -----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> None:
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not name or len(name) > 100 or not name.isprintable():
            raise InputError("a user name is 1 to 100 printable characters")
        if len(password) < 12:
            raise InputError("a console password has at least 12 characters")
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                (name, role, hash_password(password), _now()),
            )

    def authenticate(self, name: str, password: str) -> User | None:
        with self._connect() as con:
            row = con.execute("SELECT role, hash FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            check_password(password, hash_password("x" * 12))  # the same time either way
            return None
        return User(name, row[0]) if check_password(password, row[1]) else None

    def user(self, name: str) -> User | None:
        with self._connect() as con:
            row = con.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        return User(name, row[0]) if row else None

    def users(self) -> list[User]:
        with self._connect() as con:
            return [
                User(n, r) for n, r in con.execute("SELECT name, role FROM users ORDER BY name")
            ]

    # -- labels, statuses, audit -----------------------------------------------------------
    def label(
        self, accounts: list[str], label: str, note: str, by: User, campaign: str | None = None
    ) -> None:
        if label not in LABELS:
            raise InputError(f"label must be one of {', '.join(LABELS)}")
        at = _now()
        with self._connect() as con:
            con.executemany(
                "INSERT INTO labels (account_id, label, note, campaign, by, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(a, label, note[:2000], campaign, by.name, at) for a in accounts],
            )
            self._audit(con, by, "label", campaign or accounts[0],
                        {"label": label, "note": note[:2000], "accounts": len(accounts)})  # fmt: skip

    def labels(self) -> dict[str, str]:
        """The latest label of each labelled account."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT account_id, label FROM labels WHERE id IN "
                "(SELECT max(id) FROM labels GROUP BY account_id)"
            ).fetchall()
        return dict(rows)

    def label_history(self, account_id: str) -> list[dict[str, Any]]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT label, note, campaign, by, at FROM labels WHERE account_id = ? "
                "ORDER BY id DESC LIMIT 50",
                (account_id,),
            ).fetchall()
        return [dict(zip(("label", "note", "campaign", "by", "at"), r, strict=True)) for r in rows]

    def set_status(self, cluster_id: str, status: str, by: User) -> None:
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO statuses VALUES (?, ?, ?, ?)",
                (cluster_id, status, by.name, _now()),
            )
            self._audit(con, by, "status", cluster_id, {"status": status})

    def statuses(self) -> dict[str, str]:
        with self._connect() as con:
            return dict(con.execute("SELECT cluster_id, status FROM statuses").fetchall())

    def audit(self, user: User, action: str, target: str, detail: dict[str, Any]) -> None:
        with self._connect() as con:
            self._audit(con, user, action, target, detail)

    @staticmethod
    def _audit(
        con: sqlite3.Connection, user: User, action: str, target: str, detail: dict[str, Any]
    ) -> None:
        con.execute(
            "INSERT INTO audit (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), user.name, action, target, json.dumps(detail, default=str)),
        )

    def audit_log(self, target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql = "SELECT at, user, action, target, detail FROM audit"
        params: tuple[Any, ...] = ()
        if target is not None:
            sql += " WHERE target = ?"
            params = (target,)
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [
            {"at": r[0], "user": r[1], "action": r[2], "target": r[3], "detail": json.loads(r[4])}
            for r in rows
        ]


def state_file(settings: Any, given: Path | None = None) -> Path:
    """The console's state file: ``given``, else ``console.state``, else ``console.sqlite``
    beside the store (``settings`` is a :class:`distillguard.config.Settings`)."""
    return given or settings.console.state or Path(settings.db).resolve().parent / "console.sqlite"


def read_console_labels(path: Path) -> dict[str, bool]:
    """The latest label of each account in a console state file, as ``scan --labels`` wants
    them (account → is an attack)."""
    return {a: label == "attack" for a, label in ConsoleState(path).labels().items()}
