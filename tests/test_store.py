"""The store interface on a real Redis, directly and through the Upstash REST bridge."""

from __future__ import annotations

import pytest

from lib.store import Script, Store, StoreError, StoreUnavailable
from lib.store.upstash import UpstashStore

ECHO = Script("echo", "return cjson.encode({KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2})")
COUNTER = Script("counter", "return redis.call('INCRBY', KEYS[1], ARGV[1])")


def test_a_script_runs_with_evalsha_after_the_first_eval(store: Store) -> None:
    key = store.key("a")
    assert store.run_json(ECHO, [key], ["x", 1.5]) == [key, "x", 3]
    before = store.round_trips
    assert store.run_json(ECHO, [key], ["y", 2]) == [key, "y", 4]
    assert store.round_trips == before + 1  # known script: EVALSHA only


def test_noscript_falls_back_to_eval_and_costs_two_round_trips_once(store: Store, redis_server) -> None:
    script = Script("fresh", f"return '{store.prefix}'")  # unique source: the server has not seen it
    before = store.round_trips
    assert store.run(script, [], []) == store.prefix
    assert store.round_trips == before + 2
    assert store.run(script, [], []) == store.prefix
    assert store.round_trips == before + 3


def test_values_come_back_the_same_on_every_backend(store: Store) -> None:
    k = store.key("h")
    assert store.run(COUNTER, [store.key("n")], [5]) == 5
    assert store.pipeline([["HSET", k, "a", "1", "b", ""], ["HGETALL", k], ["GET", store.key("missing")]]) == [
        2,
        {"a": "1", "b": ""},
        None,
    ]
    assert store.call("HGET", k, "b") == ""
    assert store.call("GET", store.key("missing")) is None
    assert store.call("INCR", store.key("n")) == 6


def test_a_script_error_is_a_store_error_not_unavailable(store: Store) -> None:
    with pytest.raises(StoreError):
        store.run(Script("bad", "return redis.call('NOPE')"), [], [])


def test_delete_prefix_removes_only_this_prefix(store: Store, redis_server) -> None:
    other = redis_server.client(decode=True)
    other.set("vigil-test-other-keep", "1")
    store.call("SET", store.key("x"), "1")
    store.call("SET", store.key("y"), "1")
    assert store.delete_prefix() == 2
    assert other.get("vigil-test-other-keep") == "1"
    other.delete("vigil-test-other-keep")


def test_bad_upstash_token_is_unavailable_quickly(upstash_bridge, prefix: str) -> None:
    s = UpstashStore(upstash_bridge.url, "wrong-token", prefix=prefix)
    with pytest.raises((StoreUnavailable, StoreError)):
        s.call("PING")
    assert not s.ping()


def test_unreachable_upstash_does_not_sleep_and_retry(prefix: str) -> None:
    import time

    s = UpstashStore("http://127.0.0.1:9", "t", prefix=prefix)
    start = time.monotonic()
    assert not s.ping()
    assert time.monotonic() - start < 1.0  # the SDK default would sleep 3 s and retry


def test_an_upstash_that_never_answers_is_unavailable_within_the_store_timeout(prefix: str) -> None:
    """The SDK's own client has no timeout at all (PLATFORM.md 2.3): ours must reach it."""
    import socket
    import threading
    import time

    import httpx

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)

        def hold() -> None:  # reads the request, never answers; hangs up after 3 s so a failure is not a hang
            conn, _ = silent.accept()
            time.sleep(3)
            conn.close()

        threading.Thread(target=hold, daemon=True).start()
        s = UpstashStore(f"http://127.0.0.1:{silent.getsockname()[1]}", "silent-token", prefix=prefix,
                         timeout=httpx.Timeout(0.3, connect=0.3))
        start = time.monotonic()
        with pytest.raises(StoreUnavailable, match="ReadTimeout"):
            s.call("PING")
        assert time.monotonic() - start < 2.0
        s.close()


def test_the_sdk_speaks_the_documented_wire_format(upstash_bridge, prefix: str) -> None:
    s = UpstashStore(upstash_bridge.url, upstash_bridge.token, prefix=prefix)
    upstash_bridge.requests.clear()
    s.call("SET", s.key("w"), "v")
    s.pipeline([["GET", s.key("w")], ["DEL", s.key("w")]])
    single, pipe = upstash_bridge.requests[-2:]
    assert single["path"] == "/" and single["body"] == ["SET", s.key("w"), "v"]
    assert single["headers"]["Authorization"] == f"Bearer {upstash_bridge.token}"
    assert single["headers"]["Upstash-Encoding"] == "base64"
    assert pipe["path"] == "/pipeline" and pipe["body"] == [["GET", s.key("w")], ["DEL", s.key("w")]]
