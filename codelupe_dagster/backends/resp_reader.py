"""A small synchronous Redis client for the commands that only read (`codelupe status`, `dropped`).

Why: importing redis-py costs a reading command 0.25-0.5 s (it imports its asyncio client, cluster,
sentinel and telemetry modules), several times what the command itself does. A reader needs a dozen
read-only commands over one connection, which RESP2 makes a page of code.

`RespReader` answers like ``redis.Redis(decode_responses=False)`` for the subset the read paths call
(`READ_COMMANDS`): bytes out, ``None`` for a missing value, ints for counts, sets from SMEMBERS, dicts from
HGETALL and INFO, ``(member, float)`` pairs from ZRANGE ... WITHSCORES, and a non-transactional pipeline.
Writers (the pipeline) keep redis-py. URLs it does not handle — sentinel or cluster schemes, any query
option (``?ssl_cert_reqs=``, ``?db=``, timeouts) — make `supports_url` false, and the caller falls back to
redis-py, which understands them all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from codelupe_dagster.core.masking import mask_url

CONNECT_ATTEMPTS = 5
# The redis-py methods this client has, each a read: what the reading commands and their stores call.
READ_COMMANDS = (
    "ping", "get", "type", "info", "hlen", "hget", "hgetall", "hvals", "scard", "smembers", "sscan_iter",
    "llen", "lrange", "zcard", "zrange",
)  # fmt: skip
_SCHEMES = frozenset({"redis", "rediss", "unix"})


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached or refuses us; the message names the URL with credentials masked.

    Defined here, where importing it costs no redis-py, and re-exported by `backends.redis_connect`: one
    class for both clients, which `cli.errors` maps to exit 69."""


class RespError(RuntimeError):
    """The server answered a command with an error reply (redis-py's ``ResponseError``)."""


def supports_url(url: str) -> bool:
    """Whether `RespReader.from_url` understands ``url``; else use redis-py (see the module docstring)."""
    parts = urlsplit(url)
    return parts.scheme in _SCHEMES and not parts.query and not parts.fragment


Transform = Callable[[Any], Any]


def _same(reply: Any) -> Any:
    return reply


def _pairs(reply: list[Any]) -> dict[Any, Any]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _scored(reply: list[bytes]) -> list[tuple[bytes, float]]:
    return [(member, float(score)) for member, score in zip(reply[::2], reply[1::2], strict=True)]


def _info_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _info(reply: bytes) -> dict[str, Any]:
    """INFO's ``key:value`` lines as redis-py gives them (numbers parsed, the rest as text)."""
    found: dict[str, Any] = {}
    for line in reply.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            found[key] = _info_value(value)
    return found


def _connect_failure(exc: OSError, where: str) -> str:
    """Why connecting failed, worded as redis-py words it (operators search for these lines)."""
    if isinstance(exc, TimeoutError):
        return f"Timeout connecting to {where}."
    if exc.errno is None:
        return f"Error connecting to {where}. {exc}."
    return f"Error {exc.errno} connecting to {where}. {exc.strerror}."


class _Commands:
    """The read commands, each a RESP request and the conversion redis-py applies to its reply."""

    def _call(self, args: tuple[Any, ...], transform: Transform = _same) -> Any:
        raise NotImplementedError

    def ping(self) -> Any:
        return self._call(("PING",), lambda reply: reply == b"PONG")

    def get(self, name: str) -> Any:
        return self._call(("GET", name))

    def type(self, name: str) -> Any:
        return self._call(("TYPE", name))

    def info(self, section: str | None = None) -> Any:
        return self._call(("INFO",) if section is None else ("INFO", section), _info)

    def hlen(self, name: str) -> Any:
        return self._call(("HLEN", name))

    def hget(self, name: str, key: str) -> Any:
        return self._call(("HGET", name, key))

    def hgetall(self, name: str) -> Any:
        return self._call(("HGETALL", name), _pairs)

    def hvals(self, name: str) -> Any:
        return self._call(("HVALS", name))

    def scard(self, name: str) -> Any:
        return self._call(("SCARD", name))

    def smembers(self, name: str) -> Any:
        return self._call(("SMEMBERS", name), set)

    def llen(self, name: str) -> Any:
        return self._call(("LLEN", name))

    def lrange(self, name: str, start: int, end: int) -> Any:
        return self._call(("LRANGE", name, start, end))

    def zcard(self, name: str) -> Any:
        return self._call(("ZCARD", name))

    def zrange(self, name: str, start: int, end: int, withscores: bool = False) -> Any:
        if withscores:
            return self._call(("ZRANGE", name, start, end, "WITHSCORES"), _scored)
        return self._call(("ZRANGE", name, start, end))


class RespReader(_Commands):
    """One connection to one server, for reading; see the module docstring for what it answers."""

    def __init__(self, sock: socket.socket, url: str) -> None:
        self._sock = sock
        self._file = sock.makefile("rb")  # buffered: a reply split across TCP reads is read whole
        self._url = url

    @classmethod
    def from_url(
        cls, url: str, connect_timeout: float = 5.0, timeout: float = 30.0, attempts: int = CONNECT_ATTEMPTS
    ) -> RespReader:
        """Connected, authenticated and on the URL's database, or `RedisUnavailable` naming the masked URL.

        Bounded retries with backoff (as `redis_connect.connect_redis`) ride out a restarting server."""
        if not supports_url(url):
            raise ValueError(f"not a URL this reader handles (use redis-py): {mask_url(url)}")
        delay = 0.2
        for attempt in range(attempts):
            try:
                return cls._connect(url, connect_timeout, timeout)
            except (OSError, RespError) as exc:
                if attempt == attempts - 1 or isinstance(exc, RespError):  # a wrong password stays wrong
                    raise RedisUnavailable(f"Redis at {mask_url(url)} is unreachable: {exc}") from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    @classmethod
    def _connect(cls, url: str, connect_timeout: float, timeout: float) -> RespReader:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(connect_timeout)
            try:
                sock.connect(unquote(parts.path))
            except OSError as exc:
                sock.close()
                raise OSError(_connect_failure(exc, parts.path)) from exc
            db = "0"
        else:
            host, port = parts.hostname or "localhost", parts.port or 6379
            try:
                sock = socket.create_connection((host, port), timeout=connect_timeout)
            except OSError as exc:
                raise OSError(_connect_failure(exc, f"{host}:{port}")) from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if parts.scheme == "rediss":
                import ssl  # only here: ~15 ms, and plain TCP needs none of it

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            db = parts.path.lstrip("/") or "0"
        sock.settimeout(timeout)
        reader = cls(sock, url)
        try:
            if parts.password is not None:
                user = unquote(parts.username) if parts.username else None
                reader.execute_command("AUTH", *([user] if user else []), unquote(parts.password))
            if int(db) != 0:
                reader.execute_command("SELECT", int(db))
        except BaseException:
            reader.close()
            raise
        return reader

    def execute_command(self, *args: Any) -> Any:
        self._send([args])
        return self._read_reply()

    def _call(self, args: tuple[Any, ...], transform: Transform = _same) -> Any:
        return transform(self.execute_command(*args))

    def pipeline(self, transaction: bool = False) -> Pipeline:
        """Commands sent together and answered in one round trip; reads need no MULTI, so none is offered."""
        if transaction:
            raise ValueError("RespReader pipelines are not transactions; writers use redis-py")
        return Pipeline(self)

    def sscan_iter(self, name: str, match: str | None = None, count: int | None = None) -> Iterator[bytes]:
        cursor = b"0"
        while True:
            args: list[Any] = ["SSCAN", name, cursor]
            if match is not None:
                args += ["MATCH", match]
            if count is not None:
                args += ["COUNT", count]
            cursor, members = self.execute_command(*args)
            yield from members
            if cursor == b"0":
                return

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> RespReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ RESP2 on the wire

    def _send(self, commands: list[tuple[Any, ...]]) -> None:
        chunks: list[bytes] = []
        for args in commands:
            chunks.append(b"*%d\r\n" % len(args))
            for arg in args:
                value = arg if isinstance(arg, bytes) else str(arg).encode()
                chunks.append(b"$%d\r\n%s\r\n" % (len(value), value))
        self._sock.sendall(b"".join(chunks))

    def _read_line(self) -> bytes:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"Redis at {mask_url(self._url)} closed the connection")
        return line[:-2]

    def _read_reply(self) -> Any:
        """One reply; an error reply is returned as a `RespError` (raised by the caller), so a pipeline
        reads every reply before raising and the connection stays in step."""
        reply = self._read_value()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def _read_value(self) -> Any:
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError(f"Redis at {mask_url(self._url)} closed the connection")
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read_value() for _ in range(count)]
        raise ConnectionError(f"Redis at {mask_url(self._url)} sent a reply that is not RESP2: {line[:40]!r}")


class Pipeline(_Commands):
    """Queued reads, sent at `execute`; like redis-py, the first error reply is raised after all are read."""

    def __init__(self, reader: RespReader) -> None:
        self._reader = reader
        self._queued: list[tuple[tuple[Any, ...], Transform]] = []

    def _call(self, args: tuple[Any, ...], transform: Transform = _same) -> Pipeline:
        self._queued.append((args, transform))
        return self

    def execute(self) -> list[Any]:
        queued, self._queued = self._queued, []
        if not queued:
            return []
        self._reader._send([args for args, _ in queued])
        replies = [self._reader._read_value() for _ in queued]
        for reply in replies:
            if isinstance(reply, RespError):
                raise reply
        return [transform(reply) for (_, transform), reply in zip(queued, replies, strict=True)]
