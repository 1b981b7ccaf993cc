"""Accounts, API keys and decisions: the gateway's registry.

Two backends behind one small interface of JSON documents in named collections:

* :class:`SqliteRegistry` — the embedded default: a SQLite file, mirrored in memory, for one
  gateway process with nothing else running.
* :class:`RedisRegistry` — for replicas: Redis hashes, one per collection; every change is
  announced on a pub/sub channel so other replicas drop their cached copy at once (the
  cache's short TTL bounds staleness if a message is lost).

:class:`State` builds on either: it resolves an API key to an :class:`AccountView` (account +
the decisions in force for it and its cluster), caches views, and records changes.
API keys are stored only as SHA-256 digests; the secret is shown once, when created.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from distillguard.gateway._config import VERIFICATION_RANK
from distillguard.schema import PROGRAMS, VERIFICATION

log = logging.getLogger("distillguard.gateway")

Action = Literal["allow", "throttle", "verify", "restrict", "shape", "block"]
ACTIONS: tuple[str, ...] = ("allow", "throttle", "verify", "restrict", "shape", "block")
KEY_PREFIX = "dg-"


def now_utc() -> datetime:
    return datetime.now(UTC)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Account(BaseModel):
    """An account as the gateway knows it (the contract's account record, plus its cluster)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")
    org_id: str | None = Field(None, max_length=200)
    tier: str = Field("free", max_length=64)
    verification: str = "none"
    program: str = "none"
    created_at: datetime = Field(default_factory=now_utc)
    cluster_id: str | None = Field(None, max_length=200, description="set by decide/watch")
    email: str | None = Field(None, max_length=320)
    payment_fp: str | None = Field(None, max_length=200)
    billing_country: str | None = Field(None, max_length=2)
    allowlisted: bool = False

    @field_validator("verification", "program")
    @classmethod
    def _choice(cls, value: str, info: ValidationInfo) -> str:
        choices = VERIFICATION if info.field_name == "verification" else PROGRAMS
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value


class Decision(BaseModel):
    """One action on an account or a cluster, with why, who and until when."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: "dec_" + uuid.uuid4().hex[:16])
    action: Action
    scope: Literal["account", "cluster"] = "account"
    target: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field("", max_length=2_000)
    source: str = Field("admin", max_length=64, description="admin | policy | watch | online")
    created_at: datetime = Field(default_factory=now_utc)
    expires_at: datetime | None = None
    active: bool = True
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    review: Literal["pending", "confirmed", "none"] = "none"

    def in_force(self, at: datetime) -> bool:
        return self.active and (self.expires_at is None or self.expires_at > at)


@dataclass
class AccountView:
    """What a request needs to know about its account, cached per key."""

    account: Account
    key_id: str
    decisions: list[Decision]
    loaded: float = field(default_factory=time.monotonic)
    generation: int = 0
    """The cache generation it was loaded in: a decision change starts a new one."""
    base: Any = None
    """The account's :class:`Effective` before per-request checks (computed once per view)."""
    admission: Any = None
    """The proxy's per-account buckets for its online checks (computed once per view)."""

    @property
    def flagged(self) -> bool:
        return any(d.action != "allow" for d in self.decisions)


class Registry(Protocol):
    async def get(self, coll: str, doc_id: str) -> dict[str, Any] | None: ...
    async def put(self, coll: str, doc_id: str, doc: dict[str, Any]) -> None: ...
    async def delete(self, coll: str, doc_id: str) -> None: ...
    async def all(self, coll: str) -> dict[str, dict[str, Any]]: ...
    async def publish(self, message: str) -> None: ...
    async def listen(self, callback: Callable[[str], None]) -> None: ...
    async def close(self) -> None: ...


class SqliteRegistry:
    """The embedded registry: one SQLite file, read once into memory, written through."""

    COLLECTIONS = ("accounts", "keys", "decisions", "suppress")

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # e-mails and payment fingerprints: readable by the gateway's user only (SQLite
        # gives its WAL and shared-memory files the database file's mode)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS docs (coll TEXT, id TEXT, doc BLOB, PRIMARY KEY (coll, id))"
        )
        self._mem: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in self.COLLECTIONS}
        for coll, doc_id, doc in self._con.execute("SELECT coll, id, doc FROM docs"):
            self._mem.setdefault(coll, {})[doc_id] = orjson.loads(doc)

    async def get(self, coll: str, doc_id: str) -> dict[str, Any] | None:
        return self._mem.get(coll, {}).get(doc_id)

    async def put(self, coll: str, doc_id: str, doc: dict[str, Any]) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (coll, doc_id, orjson.dumps(doc))
        )
        self._mem.setdefault(coll, {})[doc_id] = doc

    async def delete(self, coll: str, doc_id: str) -> None:
        self._con.execute("DELETE FROM docs WHERE coll = ? AND id = ?", (coll, doc_id))
        self._mem.get(coll, {}).pop(doc_id, None)

    async def all(self, coll: str) -> dict[str, dict[str, Any]]:
        return dict(self._mem.get(coll, {}))

    async def publish(self, message: str) -> None:
        return None

    async def listen(self, callback: Callable[[str], None]) -> None:
        return None

    async def close(self) -> None:
        self._con.close()


class RedisRegistry:
    """Collections as Redis hashes; changes announced on ``<prefix>invalidate``."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._r = client
        self._p = prefix
        self._channel = f"{prefix}invalidate"
        self._pubsub: Any = None

    async def get(self, coll: str, doc_id: str) -> dict[str, Any] | None:
        raw = await self._r.hget(f"{self._p}{coll}", doc_id)
        return None if raw is None else orjson.loads(raw)

    async def put(self, coll: str, doc_id: str, doc: dict[str, Any]) -> None:
        await self._r.hset(f"{self._p}{coll}", doc_id, orjson.dumps(doc))

    async def delete(self, coll: str, doc_id: str) -> None:
        await self._r.hdel(f"{self._p}{coll}", doc_id)

    async def all(self, coll: str) -> dict[str, dict[str, Any]]:
        raw = await self._r.hgetall(f"{self._p}{coll}")
        return {k.decode(): orjson.loads(v) for k, v in raw.items()}

    async def publish(self, message: str) -> None:
        await self._r.publish(self._channel, message)

    async def listen(self, callback: Callable[[str], None]) -> None:
        """Call ``callback`` for each invalidation; reconnects until cancelled."""
        while True:
            try:
                self._pubsub = self._r.pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(self._channel)
                callback("*")  # anything may have changed while we were not listening
                async for message in self._pubsub.listen():
                    if message and message.get("type") == "message":
                        data = message["data"]
                        callback(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down: retry, never crash
                log.warning("redis pub/sub lost (%s); retrying", exc)
                await asyncio.sleep(1.0)
            finally:
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.aclose()

    async def close(self) -> None:
        await self._r.aclose()
        await self._r.connection_pool.disconnect()


class State:
    """Accounts, keys and decisions over a :class:`Registry`, with a per-key view cache."""

    def __init__(self, registry: Registry, *, cache_ttl_s: float = 2.0) -> None:
        self.registry = registry
        self.cache_ttl_s = cache_ttl_s
        self._views: dict[str, AccountView] = {}
        self._generation = 0
        self._decisions: dict[str, list[Decision]] | None = None
        self._decisions_loaded = 0.0
        self._listener: asyncio.Task[None] | None = None
        self.on_change: list[Callable[[Decision], Awaitable[None]]] = []

    # -- cache ---------------------------------------------------------------------------------
    def invalidate(self, message: str = "*") -> None:
        """A decision changed: every cached view is stale (reloaded on its next request)
        but kept, so that while Redis is unreachable a key is still known
        (:meth:`cached_view`). An account changed (its tier, a key revoked): its views are
        dropped, so a revoked key is never served from the cache."""
        if message == "*" or message.startswith("decision:"):
            self._decisions = None
            self._generation += 1
        else:
            account_id = message.removeprefix("account:")
            for key, view in list(self._views.items()):
                if view.account.account_id == account_id:
                    del self._views[key]

    def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(
            self.registry.listen(self.invalidate)
        )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self.registry.close()

    async def _decision_index(self) -> dict[str, list[Decision]]:
        fresh = time.monotonic() - self._decisions_loaded < self.cache_ttl_s
        if self._decisions is None or not fresh:
            index: dict[str, list[Decision]] = {}
            at = now_utc()
            for doc in (await self.registry.all("decisions")).values():
                d = Decision.model_validate(doc)
                if d.in_force(at):
                    index.setdefault(f"{d.scope}:{d.target}", []).append(d)
            self._decisions = index
            self._decisions_loaded = time.monotonic()
        return self._decisions

    async def view(self, key_hash: str) -> AccountView | None:
        """The account and decisions behind an API key, or None for an unknown key."""
        cached = self._views.get(key_hash)
        if (
            cached is not None
            and cached.generation == self._generation
            and time.monotonic() - cached.loaded < self.cache_ttl_s
        ):
            return cached
        generation = self._generation  # a change while this loads makes the result stale
        key = await self.registry.get("keys", key_hash)
        if key is None or key.get("revoked"):
            self._views.pop(key_hash, None)
            return None
        acc_doc = await self.registry.get("accounts", key["account_id"])
        if acc_doc is None:
            return None
        account = Account.model_validate(acc_doc)
        index = await self._decision_index()
        decisions = list(index.get(f"account:{account.account_id}", []))
        if account.cluster_id:
            decisions += index.get(f"cluster:{account.cluster_id}", [])
        at = now_utc()
        view = AccountView(
            account,
            key["key_id"],
            [d for d in decisions if d.in_force(at)],
            generation=generation,
        )
        if len(self._views) > 100_000:
            self._views.clear()
        self._views[key_hash] = view
        return view

    def cached_view(self, key_hash: str) -> AccountView | None:
        """The last view of a key however old or stale (used when Redis is unreachable)."""
        return self._views.get(key_hash)

    # -- accounts and keys -------------------------------------------------------------------
    async def put_account(self, account: Account) -> Account:
        await self.registry.put("accounts", account.account_id, account.model_dump(mode="json"))
        self.invalidate(f"account:{account.account_id}")
        await self.registry.publish(f"account:{account.account_id}")
        return account

    async def get_account(self, account_id: str) -> Account | None:
        doc = await self.registry.get("accounts", account_id)
        return None if doc is None else Account.model_validate(doc)

    async def accounts(self) -> list[Account]:
        return [Account.model_validate(d) for d in (await self.registry.all("accounts")).values()]

    async def create_key(self, account_id: str, name: str = "") -> tuple[str, str]:
        """A new key for the account: (key_id, secret). Only the digest is stored."""
        key_id = "key_" + secrets.token_hex(6)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        doc = {
            "key_id": key_id,
            "account_id": account_id,
            "name": name[:200],
            "created_at": now_utc().isoformat(),
            "revoked": False,
            "hint": secret[-4:],
        }
        await self.registry.put("keys", hash_key(secret), doc)
        return key_id, secret

    async def keys(self, account_id: str | None = None) -> list[dict[str, Any]]:
        docs = (await self.registry.all("keys")).values()
        return [d for d in docs if account_id is None or d["account_id"] == account_id]

    async def revoke_key(self, key_id: str) -> bool:
        for digest, doc in (await self.registry.all("keys")).items():
            if doc["key_id"] == key_id and not doc.get("revoked"):
                await self.registry.put("keys", digest, {**doc, "revoked": True})
                self._views.pop(digest, None)
                await self.registry.publish(f"account:{doc['account_id']}")
                return True
        return False

    # -- decisions ---------------------------------------------------------------------------
    async def put_decision(self, decision: Decision) -> Decision:
        await self.registry.put("decisions", decision.id, decision.model_dump(mode="json"))
        self.invalidate("decision:" + decision.id)
        await self.registry.publish("decision:" + decision.id)
        for hook in self.on_change:
            await hook(decision)
        return decision

    async def get_decision(self, decision_id: str) -> Decision | None:
        doc = await self.registry.get("decisions", decision_id)
        return None if doc is None else Decision.model_validate(doc)

    async def decisions(self) -> list[Decision]:
        docs = (await self.registry.all("decisions")).values()
        return sorted((Decision.model_validate(d) for d in docs), key=lambda d: d.created_at)

    async def revoke(
        self, decision_id: str, by: str, suppress_hours: float = 0.0
    ) -> Decision | None:
        """Lift a decision. ``suppress_hours`` keeps ``watch`` from re-imposing it."""
        d = await self.get_decision(decision_id)
        if d is None:
            return None
        d = d.model_copy(update={"active": False, "revoked_at": now_utc(), "revoked_by": by})
        if suppress_hours > 0:
            until = now_utc() + timedelta(hours=suppress_hours)
            await self.registry.put(
                "suppress", f"{d.scope}:{d.target}", {"until": until.isoformat(), "by": by}
            )
        return await self.put_decision(d)

    async def suppressed(self, scope: str, target: str) -> bool:
        doc = await self.registry.get("suppress", f"{scope}:{target}")
        return doc is not None and datetime.fromisoformat(doc["until"]) > now_utc()

    async def assign_cluster(self, account_id: str, cluster_id: str | None) -> bool:
        acc = await self.get_account(account_id)
        if acc is None or acc.cluster_id == cluster_id:
            return False
        await self.put_account(acc.model_copy(update={"cluster_id": cluster_id}))
        return True


def verification_at_least(level: str, required: str) -> bool:
    return VERIFICATION_RANK.get(level, 0) >= VERIFICATION_RANK.get(required, 0)
