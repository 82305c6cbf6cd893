"""The Bus on Redis: a stream of facts, leases as keys that expire, state in hashes.

Keys (docs/cluster.md says why each structure):
  tertulia:events            stream: every fact, in the one order every node applies
  tertulia:node:<node>       string with a TTL: the node's lease, holding its status
  tertulia:nodes             set: nodes that joined and were not forgotten
  tertulia:sessions:<node>   hash: folded nick -> the node's session, as a hello fact
  tertulia:nick:<folded>     string with a TTL: the node that holds the nick
  tertulia:slot:<n>          string with a TTL: the node that numbers messages with slot n
  tertulia:room:<folded>     string: a room's topic and modes
  tertulia:batch:<run>       hash: the last batch of facts kept from one run of a node
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from tertulia.bus import BusDown

PREFIX = "tertulia:"
EVENTS = PREFIX + "events"
NODES = PREFIX + "nodes"
# Facts the stream keeps (about): a node away for longer than this many facts cannot catch
# up from the stream and reads the shared state again instead.
KEEP = 200_000
TIMEOUT = 2.0  # seconds for one command before Redis counts as away
# Seconds for a blocking read, its wait included (reads wait 1 s): a Redis host that
# vanished without closing the connection is noticed.
READ_TIMEOUT = 5.0

# Take `name` unless another holds it; refresh it when we do. The holder after the call.
_CLAIM = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return cur
"""
# Extend the owner's holds, taking back those that lapsed; the keys someone else holds.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  if cur == false or cur == ARGV[1] then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, key)
  end
end
return lost
"""
# Append facts in one command (one request and one reply for a whole batch, where a
# pipeline of XADDs costs a command and a reply to parse for each fact); the last id.
# KEYS: the stream, the node's batch record. ARGV: the stream's length, the node's run
# ("" for none), the batch's number, then the facts. A batch already kept is not again.
_APPEND = """
if ARGV[2] ~= '' then
  local seen = redis.call('HMGET', KEYS[2], 'run', 'batch')
  if seen[1] == ARGV[2] and tonumber(seen[2]) >= tonumber(ARGV[3]) then return '' end
  redis.call('HSET', KEYS[2], 'run', ARGV[2], 'batch', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 86400000)
end
local last = ''
for i = 4, #ARGV do
  last = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'f', ARGV[i])
end
return last
"""
_RELEASE = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""


def _down(exc: BaseException) -> BusDown:
    return BusDown(" ".join(str(exc).split()) or type(exc).__name__)


class RedisBus:
    def __init__(self, url: str) -> None:
        # For operators: the scheme, host, port and database, never a user, a password or
        # options (a password may ride in the query).
        scheme = url.split("://", 1)[0]
        host = url.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0].split("@")[-1]
        self.where = f"{scheme}://{host}"
        self._url = url
        # No retries of our own making inside the client: a node that cannot reach Redis
        # says so at once (health, metrics) and tries again on its own schedule.
        options: dict[str, Any] = {
            "socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT,
            "retry": Retry(NoBackoff(), 0), "decode_responses": False,
            "socket_keepalive": True,
        }  # fmt: skip
        # redis-py's types say str or bytes for every reply; ours are bytes (no decoding).
        self._r: Any = aioredis.Redis.from_url(url, **options)
        # The blocking read waits on a connection of its own, longer than its wait.
        self._reader: Any = aioredis.Redis.from_url(
            url, **(options | {"socket_timeout": READ_TIMEOUT})
        )
        self._claim = self._r.register_script(_CLAIM)
        self._renew = self._r.register_script(_RENEW)
        self._release = self._r.register_script(_RELEASE)
        self._append = self._r.register_script(_APPEND)

    async def open(self) -> None:
        try:
            await self._r.ping()
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def close(self) -> None:
        await self._r.aclose()
        await self._reader.aclose()

    async def append(self, facts: list[bytes], batch: tuple[str, int] | None) -> str:
        if not facts:
            return ""
        run, number = batch or ("", 0)
        key = PREFIX + "batch:" + run
        try:
            last = await self._append(keys=[EVENTS, key], args=[KEEP, run, number, *facts])
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return last.decode() if isinstance(last, bytes) else str(last)

    async def read(self, after: str, wait: float, count: int) -> list[tuple[str, bytes]]:
        try:
            found = await self._reader.xread(
                {EVENTS: after}, count=count, block=max(1, int(wait * 1000))
            )
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        out: list[tuple[str, bytes]] = []
        for _stream, entries in found or ():
            for entry_id, fields in entries:
                out.append((entry_id.decode(), fields.get(b"f", b"")))
        return out

    async def first(self) -> str:
        try:
            found = await self._r.xrange(EVENTS, count=1)
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return found[0][0].decode() if found else "0-0"

    async def last(self) -> str:
        try:
            found = await self._r.xrevrange(EVENTS, count=1)
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return found[0][0].decode() if found else "0-0"

    async def claim(self, name: str, owner: str, ttl: float) -> str:
        try:
            holder = await self._claim(keys=[PREFIX + name], args=[owner, int(ttl * 1000)])
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    async def renew(self, names: list[str], owner: str, ttl: float) -> list[str]:
        if not names:
            return []
        try:
            lost = await self._renew(
                keys=[PREFIX + n for n in names], args=[owner, int(ttl * 1000)]
            )
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return [k.decode().removeprefix(PREFIX) for k in lost]

    async def release(self, names: list[str], owner: str) -> None:
        if not names:
            return
        try:
            await self._release(keys=[PREFIX + n for n in names], args=[owner])
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def beat(self, node: str, info: bytes, ttl: float) -> bool:
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.set(PREFIX + "node:" + node, info, px=int(ttl * 1000), get=True)
                pipe.sadd(NODES, node)
                before, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return before is not None

    async def nodes(self) -> dict[str, bytes]:
        try:
            names = sorted(n.decode() for n in await self._r.smembers(NODES))
            infos = await self._r.mget([PREFIX + "node:" + n for n in names]) if names else []
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return {n: i for n, i in zip(names, infos, strict=True) if i is not None}

    async def known(self) -> list[str]:
        try:
            return sorted(n.decode() for n in await self._r.smembers(NODES))
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def forget(self, node: str) -> None:
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.srem(NODES, node)
                pipe.delete(PREFIX + "sessions:" + node, PREFIX + "node:" + node)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def put_sessions(self, node: str, sessions: dict[str, bytes], gone: list[str]) -> None:
        key = PREFIX + "sessions:" + node
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                if gone:
                    pipe.hdel(key, *gone)
                if sessions:
                    pipe.hset(key, mapping=sessions)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def sessions(self, node: str) -> list[bytes]:
        try:
            found = await self._r.hgetall(PREFIX + "sessions:" + node)
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        return list(found.values())

    async def put_room(self, key: str, state: bytes) -> None:
        try:
            await self._r.set(PREFIX + "room:" + key, state)
        except (RedisError, OSError) as exc:
            raise _down(exc) from None

    async def rooms(self) -> dict[str, bytes]:
        try:
            keys = [k async for k in self._r.scan_iter(match=PREFIX + "room:*", count=500)]
            values = await self._r.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise _down(exc) from None
        prefix = PREFIX + "room:"
        return {
            k.decode().removeprefix(prefix): v
            for k, v in zip(keys, values, strict=True)
            if v is not None
        }
