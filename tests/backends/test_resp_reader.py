"""`RespReader` answers every read it offers exactly as redis-py does, against both real servers; and it
connects as REDIS_URL says (password, user, database, unix socket) or fails in one masked line."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from codelupe_dagster.backends.embedded_valkey import valkey_binary
from codelupe_dagster.backends.resp_reader import (
    READ_COMMANDS,
    RedisUnavailable,
    RespError,
    RespReader,
    supports_url,
)

# One call of each read command, run on both clients; missing keys and empty results included.
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("ping", (), {}),
    ("get", ("s",), {}),
    ("get", ("missing",), {}),
    ("type", ("h",), {}),
    ("type", ("missing",), {}),
    ("hlen", ("h",), {}),
    ("hget", ("h", "f1"), {}),
    ("hget", ("h", "nope"), {}),
    ("hgetall", ("h",), {}),
    ("hgetall", ("missing",), {}),
    ("hvals", ("h",), {}),
    ("scard", ("set",), {}),
    ("smembers", ("set",), {}),
    ("smembers", ("missing",), {}),
    ("llen", ("list",), {}),
    ("lrange", ("list", 0, -1), {}),
    ("lrange", ("list", 1, 1), {}),
    ("lrange", ("missing", 0, -1), {}),
    ("zcard", ("z",), {}),
    ("zrange", ("z", 0, -1), {}),
    ("zrange", ("z", 0, 0), {"withscores": True}),
    ("zrange", ("z", 0, -1), {"withscores": True}),
    ("zrange", ("missing", 0, 0), {"withscores": True}),
]


def fill(client: redis.Redis) -> None:
    client.set("s", b"caf\xc3\xa9 \r\n and binary \x00\xff")
    client.hset("h", mapping={"f1": "v1", "f2": b"\x00two"})
    client.sadd("set", "a", "b", b"\xff")
    client.rpush("list", "x", "y", "z")
    client.zadd("z", {"low": 1.5, "high": 1e12, "neg": -3})


@pytest.fixture
def reader(redis_client: redis.Redis, redis_url: str) -> Iterator[RespReader]:
    fill(redis_client)
    with RespReader.from_url(redis_url) as connected:
        yield connected


def test_the_calls_cover_every_read_command() -> None:
    assert {name for name, _, _ in CALLS} | {"info", "sscan_iter"} == set(READ_COMMANDS)


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CALLS])
def test_each_read_answers_as_redis_py_does(
    reader: RespReader, redis_client: redis.Redis, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    expected = getattr(redis_client, name)(*args, **kwargs)
    got = getattr(reader, name)(*args, **kwargs)
    assert got == expected
    assert type(got) is type(expected)


def test_a_pipeline_answers_every_call_in_order_as_redis_py_does(
    reader: RespReader, redis_client: redis.Redis
) -> None:
    ours, theirs = reader.pipeline(transaction=False), redis_client.pipeline(transaction=False)
    for name, args, kwargs in CALLS:
        getattr(ours, name)(*args, **kwargs)
        getattr(theirs, name)(*args, **kwargs)
    assert ours.execute() == theirs.execute()
    assert reader.pipeline().execute() == []


def test_info_and_sscan_answer_as_redis_py_does(reader: RespReader, redis_client: redis.Redis) -> None:
    ours, theirs = reader.info("server"), redis_client.info("server")
    assert ours["run_id"] == theirs["run_id"] and ours["tcp_port"] == theirs["tcp_port"]
    redis_client.sadd("big", *[f"m{i}" for i in range(2500)])
    members = list(reader.sscan_iter("big", count=100))
    assert sorted(members) == sorted(redis_client.smembers("big"))


def test_an_error_reply_raises_and_the_connection_stays_in_step(reader: RespReader) -> None:
    with pytest.raises(RespError, match="WRONGTYPE"):
        reader.hlen("s")
    pipe = reader.pipeline()
    pipe.get("s").hlen("s").llen("list")
    with pytest.raises(RespError, match="WRONGTYPE"):
        pipe.execute()
    assert reader.llen("list") == 3  # every reply of the failed pipeline was read


def test_a_value_larger_than_any_socket_read_comes_back_whole(
    reader: RespReader, redis_client: redis.Redis
) -> None:
    big = bytes(range(256)) * 40_000 + b"\r\n"  # ~10 MB, CRLF inside and at the end
    redis_client.set("big", big)
    assert reader.get("big") == big
    pipe = reader.pipeline()
    pipe.get("big").get("s")
    assert pipe.execute() == [big, redis_client.get("s")]


def test_auth_with_user_and_password(valkey_url: str, valkey_client: redis.Redis) -> None:
    valkey_client.set("k", "v")
    as_default_user = valkey_url.replace("redis://:", "redis://default:")
    with RespReader.from_url(as_default_user) as reader:
        assert reader.get("k") == b"v"


def test_a_wrong_password_is_unavailable_in_one_masked_line(valkey_url: str) -> None:
    wrong = valkey_url.replace("redis://:", "redis://:not-the-s3cret")
    with pytest.raises(RedisUnavailable) as caught:
        RespReader.from_url(wrong, attempts=3)
    message = str(caught.value)
    assert message.startswith("Redis at redis://:***@127.0.0.1:") and "unreachable" in message
    assert "s3cret" not in message


def test_the_url_selects_the_database(valkey_url: str, valkey_client: redis.Redis) -> None:
    in_db_3 = valkey_url.rsplit("/", 1)[0] + "/3"
    other = redis.Redis.from_url(in_db_3)
    other.flushdb()
    other.set("only-in-3", "yes")
    try:
        with RespReader.from_url(in_db_3) as reader:
            assert reader.get("only-in-3") == b"yes"
        with RespReader.from_url(valkey_url) as reader:
            assert reader.get("only-in-3") is None
    finally:
        other.flushdb()


def test_a_server_that_is_down_is_unavailable_with_the_password_masked() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(RedisUnavailable) as caught:
            RespReader.from_url(f"redis://ops:s3cret@127.0.0.1:{port}/0", attempts=2)
    message = str(caught.value)
    assert message == (
        f"Redis at redis://ops:***@127.0.0.1:{port}/0 is unreachable: "
        f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    )


@pytest.fixture
def unix_socket_valkey(tmp_path: Path) -> Iterator[Path]:
    """A Valkey listening on a unix socket only, with a password."""
    path = tmp_path / "valkey.sock"
    options = [
        "--port",
        "0",
        "--unixsocket",
        str(path),
        "--requirepass",
        "pw",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        [str(valkey_binary()), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("valkey-server did not start on a unix socket")
        time.sleep(0.05)
    yield path
    proc.terminate()
    proc.wait(timeout=10)


def test_a_unix_socket_url(unix_socket_valkey: Path) -> None:
    url = f"unix://:pw@{unix_socket_valkey}"
    redis.Redis.from_url(url).set("k", "over the socket")
    with RespReader.from_url(url) as reader:
        assert reader.get("k") == b"over the socket"
        assert reader.ping() is True


@pytest.mark.parametrize(
    ("url", "supported"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("redis://:pw@host:1/2", True),
        ("rediss://user:pw@host:6380", True),
        ("unix:///run/valkey.sock", True),
        ("redis://host:6379/0?ssl_cert_reqs=none", False),  # any query option: redis-py
        ("unix:///run/valkey.sock?db=2", False),
        ("redis+sentinel://host:26379/mymaster", False),
        ("notaurl", False),
    ],
)
def test_urls_it_does_not_handle_are_left_to_redis_py(url: str, supported: bool) -> None:
    assert supports_url(url) is supported


def test_transactions_are_left_to_redis_py(reader: RespReader) -> None:
    with pytest.raises(ValueError, match="not transactions"):
        reader.pipeline(transaction=True)
