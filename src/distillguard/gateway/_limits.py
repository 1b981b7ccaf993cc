"""Token buckets: in-process for one replica, an atomic Lua script on Redis server time for many.

A bucket holds up to ``capacity`` units and refills at ``capacity / period_s`` a second.
Request buckets charge 1 unit at admission; token buckets charge nothing at admission (they
only need a positive balance) and are debited with the exchange's real tokens afterwards,
so they may go negative and hold the next requests back until they refill. All buckets of
one request are checked and charged together: either all admit or none is charged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

_EPSILON = 1e-9


@dataclass(frozen=True)
class Bucket:
    key: str
    capacity: float
    period_s: float
    cost: float = 1.0
    rate: float = field(init=False, repr=False, compare=False)
    """Units per second."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", self.capacity / self.period_s)


class Limiter(Protocol):
    async def acquire(self, buckets: list[Bucket]) -> float:
        """0.0 when admitted (all charged), else seconds until the request could pass."""

    async def debit(self, buckets: list[Bucket], amount: float) -> None:
        """Take ``amount`` from each bucket, allowing a negative balance."""

    async def levels(self, buckets: list[Bucket]) -> list[float]:
        """Current balance of each bucket."""

    async def close(self) -> None: ...


class MemoryLimiter:
    """Buckets in a dict; the event loop makes each call atomic."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    def _level(self, b: Bucket, now: float) -> float:
        level, ts = self._state.get(b.key, (b.capacity, now))
        return min(b.capacity, level + (now - ts) * b.rate)

    async def acquire(self, buckets: list[Bucket]) -> float:
        now = self._clock()
        state = self._state
        wait = 0.0
        levels = []
        for b in buckets:  # _level() and need, inlined: this runs on every request
            held = state.get(b.key)
            level = (
                b.capacity if held is None else min(b.capacity, held[0] + (now - held[1]) * b.rate)
            )
            levels.append(level)
            need = b.cost if b.cost > _EPSILON else _EPSILON
            if level < need and (need - level) / b.rate > wait:
                wait = (need - level) / b.rate
        if wait > 0:
            return wait
        for b, level in zip(buckets, levels, strict=True):
            state[b.key] = (level - b.cost, now)
        if len(state) > 200_000:
            self._evict(now)
        return 0.0

    async def debit(self, buckets: list[Bucket], amount: float) -> None:
        self.debit_now(buckets, amount)

    def debit_now(self, buckets: list[Bucket], amount: float) -> None:
        """:meth:`debit` without a round trip through the event loop."""
        now = self._clock()
        for b in buckets:
            self._state[b.key] = (self._level(b, now) - amount, now)

    async def levels(self, buckets: list[Bucket]) -> list[float]:
        now = self._clock()
        return [self._level(b, now) for b in buckets]

    def _evict(self, now: float) -> None:
        # a bucket untouched for a day is full again; forgetting it changes nothing
        for key in [k for k, (_, ts) in self._state.items() if now - ts > 86_400]:
            del self._state[key]

    async def close(self) -> None:
        return None


# KEYS: bucket keys. ARGV: mode ('take' | 'debit' | 'peek'), amount, then per bucket
# capacity, rate per millisecond, cost. Time comes from the Redis server, never the caller.
LUA_BUCKETS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode = ARGV[1]
local amount = tonumber(ARGV[2])
local n = #KEYS
local levels = {}
local wait = 0
for i = 1, n do
  local cap = tonumber(ARGV[3 + (i - 1) * 3])
  local rate = tonumber(ARGV[4 + (i - 1) * 3])
  local cost = tonumber(ARGV[5 + (i - 1) * 3])
  local v = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = tonumber(v[1])
  local ts = tonumber(v[2])
  if level == nil or ts == nil then level = cap; ts = now end
  level = math.min(cap, level + math.max(0, now - ts) * rate)
  levels[i] = level
  if mode == 'take' then
    local need = math.max(cost, 1e-9)
    if level < need then
      local w = (need - level) / rate
      if w > wait then wait = w end
    end
  end
end
if mode == 'peek' then
  local out = {}
  for i = 1, n do out[i] = tostring(levels[i]) end
  return out
end
if wait > 0 then return {tostring(wait / 1000)} end
for i = 1, n do
  local cap = tonumber(ARGV[3 + (i - 1) * 3])
  local rate = tonumber(ARGV[4 + (i - 1) * 3])
  local cost = tonumber(ARGV[5 + (i - 1) * 3])
  local take = cost
  if mode == 'debit' then take = amount end
  redis.call('HSET', KEYS[i], 'l', tostring(levels[i] - take), 't', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(cap / rate) + 60000)
end
return {'0'}
"""


class RedisLimiter:
    """Buckets in Redis hashes, changed only by :data:`LUA_BUCKETS` (atomic, server time)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(LUA_BUCKETS)

    def _args(self, mode: str, amount: float, buckets: list[Bucket]) -> tuple[list[str], list[Any]]:
        keys = [f"{self._prefix}b:{b.key}" for b in buckets]
        argv: list[Any] = [mode, amount]
        for b in buckets:
            argv += [b.capacity, b.rate / 1000.0, b.cost]
        return keys, argv

    async def acquire(self, buckets: list[Bucket]) -> float:
        if not buckets:
            return 0.0
        keys, argv = self._args("take", 0, buckets)
        out = await self._script(keys=keys, args=argv)
        return float(out[0])

    async def debit(self, buckets: list[Bucket], amount: float) -> None:
        if buckets and amount > 0:
            keys, argv = self._args("debit", amount, buckets)
            await self._script(keys=keys, args=argv)

    async def levels(self, buckets: list[Bucket]) -> list[float]:
        if not buckets:
            return []
        keys, argv = self._args("peek", 0, buckets)
        return [float(x) for x in await self._script(keys=keys, args=argv)]

    async def close(self) -> None:
        return None
