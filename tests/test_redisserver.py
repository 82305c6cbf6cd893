"""The Redis harness itself: it starts, answers, loses its data on a restart, freezes."""

from __future__ import annotations

# redis-py comes with the dev extra: without it this module fails to import, which fails
# the run (a module-level skip would not: the hook that turns skips into failures under
# TERTULIA_REQUIRE_ALL=1 sees only skips inside tests).
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redisserver import RedisServer


def test_start_answers_ping(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_restart_empty_loses_the_data(own_redis: RedisServer) -> None:
    port = own_redis.port
    client = redis.Redis.from_url(own_redis.url())
    try:
        client.set("key", "value")
        assert client.get("key") == b"value"
        own_redis.restart_empty()
        assert own_redis.port == port
        assert client.get("key") is None  # the client reconnects to the new, empty server
    finally:
        client.close()


def test_freeze_times_out_and_thaw_answers(own_redis: RedisServer) -> None:
    # No retry: one timeout of half a second is the whole wait.
    client = redis.Redis.from_url(own_redis.url(), socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    try:
        assert client.ping() is True
        own_redis.freeze()
        try:
            with pytest.raises(redis.exceptions.TimeoutError):
                client.ping()
        finally:
            own_redis.thaw()
        assert client.ping() is True
    finally:
        client.close()
