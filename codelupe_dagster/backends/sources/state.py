"""Where a source keeps what it must remember between runs: ETags, watermarks, cursors.

A small key-value interface with two implementations: a dict for one-off crawls and tests, and one
Redis hash per store for production (the crawl asset names the hash).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol


class KeyValueStore(Protocol):
    """String keys to string values, persisted between runs by the production implementation."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def retain(self, names: Collection[str]) -> int:
        """Forget every entry not in `names`; returns how many were dropped."""
        ...


@dataclass
class DictStore:
    """In-process store, for one-off crawls that need no memory between runs."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)

    def retain(self, names: Collection[str]) -> int:
        stale = [name for name in self.values if name not in names]
        for name in stale:
            del self.values[name]
        return len(stale)


class RedisHashStore:
    """One Redis hash; a source writes a field per URL (ETags), per base query (watermarks) or cursor.

    `client` is a redis-py client (untyped here: backends do not depend on redis-py's stubs).
    """

    def __init__(self, client: Any, key: str):
        self._client = client
        self.key = key

    def get(self, name: str) -> str | None:
        value = self._client.hget(self.key, name)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, name: str, value: str) -> None:
        self._client.hset(self.key, name, value)

    def delete(self, name: str) -> None:
        self._client.hdel(self.key, name)

    def retain(self, names: Collection[str]) -> int:
        keep = {name.encode() for name in names}
        stale = [key for key in self._client.hkeys(self.key) if key not in keep]
        for start in range(0, len(stale), 1000):
            self._client.hdel(self.key, *stale[start : start + 1000])
        return len(stale)
