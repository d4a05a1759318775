"""A bounded, expiring, thread-safe store of chat sessions (one agent per session).

Chat agents keep their dialogue state in memory, so the server keeps one agent per session id:
at most ``max_sessions`` of them (the least recently used one is dropped when full) and none older
than ``ttl_s`` seconds since its last use. Session ids are random (``secrets.token_urlsafe``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Session", "SessionStore"]


@dataclass
class Session:
    id: str
    kind: str
    agent: Any
    created: float
    last_used: float
    turns: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # one turn at a time per session


class SessionStore:
    """``create`` / ``get`` / ``delete`` sessions; LRU-bounded to ``max_sessions``, expiring after ``ttl_s``."""

    def __init__(self, max_sessions: int = 1000, ttl_s: float = 1800.0, clock: Callable[[], float] = time.monotonic):
        if max_sessions < 1 or ttl_s <= 0:
            raise ValueError("max_sessions must be >= 1 and ttl_s > 0")
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._items)

    def _expire(self, now: float) -> None:
        while self._items:
            sid, s = next(iter(self._items.items()))
            if now - s.last_used <= self.ttl_s:
                break
            del self._items[sid]

    def create(self, kind: str, agent: Any) -> Session:
        now = self.clock()
        s = Session(secrets.token_urlsafe(16), kind, agent, now, now)
        with self._lock:
            self._expire(now)
            while len(self._items) >= self.max_sessions:
                self._items.popitem(last=False)  # least recently used
            self._items[s.id] = s
        return s

    def get(self, sid: str) -> Session | None:
        """The live session ``sid`` (marked as used now), or None when unknown or expired."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            s = self._items.get(sid)
            if s is not None:
                s.last_used = now
                self._items.move_to_end(sid)
            return s

    def delete(self, sid: str) -> bool:
        with self._lock:
            return self._items.pop(sid, None) is not None
