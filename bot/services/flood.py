"""A per-user flood limit: a sliding window of accepted updates per Telegram id.

Why in memory: Telegram sends a bot's updates to one consumer, and one bot process is active
at a time (a standby waits on the leader lock, architecture.md), so every update of a user
passes through this one object. A restart or a takeover forgets the windows, which at worst
lets a flooding user start a fresh window of ten seconds: nothing worth a table and a write
per update. Updates of one chat are handled in order (bot/concurrency.py) and the event loop
runs one check at a time, so no lock is needed.

Staff (agents, admins) get a limit five times higher rather than none: they legitimately
answer in bursts (several replies, a row of /status commands), yet a runaway script in a staff
account should not be able to flood customers through the bot either.
"""

from __future__ import annotations

import enum
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

LIMIT = 20  # updates a user may send ...
WINDOW = 10.0  # ... within this many seconds
STAFF_FACTOR = 5
STAFF_LIMIT = STAFF_FACTOR * LIMIT  # the same, for agents and admins

SLOW_DOWN = (
    "You're sending messages very fast; please slow down. Nothing you sent before this was lost."
)


class Verdict(enum.Enum):
    ACCEPT = "accept"  # handle the update
    WARN = "warn"  # drop it, and tell the user once (SLOW_DOWN)
    DROP = "drop"  # drop it silently: the user was told already in this window


@dataclass
class _Window:
    accepted: deque[float] = field(default_factory=deque)
    warned_at: float | None = None


class FloodLimiter:
    """`check(telegram_id, staff=...)` once per update, before any work is done for it."""

    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: float = WINDOW,
        staff_limit: int = STAFF_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.staff_limit = staff_limit
        self._clock = clock
        self._users: dict[int, _Window] = {}
        self._staff: set[int] = set()
        self._pruned_at = clock()

    @classmethod
    def from_setting(cls, limit: int) -> FloodLimiter:
        """FLOOD_LIMIT updates per window for customers, five times that for staff; 0: off."""
        if limit == 0:
            return cls(limit=sys.maxsize, staff_limit=sys.maxsize)
        return cls(limit=limit, staff_limit=STAFF_FACTOR * limit)

    def is_staff(self, telegram_id: int) -> bool:
        """Whether this user was staff when last seen (their role needs the database)."""
        return telegram_id in self._staff

    def set_staff(self, telegram_id: int, staff: bool) -> None:
        if staff:
            self._staff.add(telegram_id)
        else:
            self._staff.discard(telegram_id)

    def check(self, telegram_id: int, *, staff: bool = False) -> Verdict:
        """Count this update of `telegram_id` if it is within the limit; say what to do."""
        now = self._clock()
        self._prune(now)
        entry = self._users.setdefault(telegram_id, _Window())
        accepted = entry.accepted
        while accepted and accepted[0] <= now - self.window:
            accepted.popleft()
        if len(accepted) < (self.staff_limit if staff else self.limit):
            accepted.append(now)
            return Verdict.ACCEPT
        # Dropped updates are not counted: the user gets back in as the window slides.
        if entry.warned_at is None or entry.warned_at <= now - self.window:
            entry.warned_at = now
            return Verdict.WARN
        return Verdict.DROP

    def _prune(self, now: float) -> None:
        """Forget users idle for a whole window, at most once a window (memory stays small)."""
        if now - self._pruned_at < self.window:
            return
        self._pruned_at = now
        horizon = now - self.window
        idle = [
            telegram_id
            for telegram_id, entry in self._users.items()
            if (not entry.accepted or entry.accepted[-1] <= horizon)
            and (entry.warned_at is None or entry.warned_at <= horizon)
        ]
        for telegram_id in idle:
            del self._users[telegram_id]

    def __len__(self) -> int:
        return len(self._users)
