"""Pacing a person who writes faster than FLOOD_LIMIT messages in 10 seconds (never dropping).

Each person's relayed messages pass a token bucket (the generic cell rate algorithm): the
first `limit` within a window go at once; past that, one every `window / limit` seconds. A
message past the limit is still stored and queued at once, in the relay's one transaction; only
its delivery row carries a send time (`not_before`) that the delivery sender honours (see
bot/delivery.py), so a crash loses nothing and the chat's order holds. Commands, buttons and
dialogue answers are handled at once: they are answered to the person themself and relay
nothing, and pausing them would hold up the acknowledgement of everyone's updates
(bot/polling.py).

A flood episode begins with the first paced message (the person is told once, `PACING`) and
ends when the bucket is full again: the backlog has gone out and the person has written no
faster than the limit for a whole window.

Why in memory: Telegram sends a bot's updates to one consumer, and one bot process is active at
a time (a standby waits on the leader lock, architecture.md), so every message of a person
passes through this one object. A restart forgets the buckets; the rows already paced keep
their send times, and the next messages queue behind them (bot/delivery.py), so order holds.
Updates of one chat are handled in order (bot/concurrency.py) and the event loop runs one
call at a time, so no lock is needed.

Staff (agents, admins) get a limit five times higher: they legitimately answer in bursts, yet a
runaway script in a staff account should not flood a customer either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

LIMIT = 20  # messages a person may send ...
WINDOW = 10.0  # ... within this many seconds before they are paced
STAFF_FACTOR = 5

PACING = (
    "You're sending messages very fast, so they are now delivered at a steady pace, in order."
    " Nothing you send is lost."
)


@dataclass(frozen=True)
class Pace:
    """When to send a person's message: `delay` seconds from now (0: at once)."""

    delay: float = 0.0
    notice: bool = False  # the first paced message of an episode: tell the person (PACING)


AT_ONCE = Pace()


@dataclass
class _Bucket:
    due: float  # when the bucket is full again (the algorithm's theoretical arrival time)
    told: bool = False


class FloodLimiter:
    """`pace(telegram_id, staff=...)` once per message to be relayed."""

    def __init__(
        self,
        *,
        limit: int | None = LIMIT,
        window: float = WINDOW,
        staff_limit: int | None = STAFF_FACTOR * LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.staff_limit = staff_limit
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._pruned_at = clock()

    @classmethod
    def from_setting(cls, limit: int) -> FloodLimiter:
        """FLOOD_LIMIT messages per window for customers, five times that for staff; 0: off."""
        if limit == 0:
            return cls(limit=None, staff_limit=None)
        return cls(limit=limit, staff_limit=STAFF_FACTOR * limit)

    def pace(self, telegram_id: int, *, staff: bool = False) -> Pace:
        """Count a message of `telegram_id` and say when it may be sent."""
        limit = self.staff_limit if staff else self.limit
        if limit is None:
            return AT_ONCE
        now = self._clock()
        self._prune(now)
        interval = self.window / limit
        bucket = self._buckets.get(telegram_id)
        if bucket is None or bucket.due <= now:  # full: a new episode, if any
            bucket = self._buckets[telegram_id] = _Bucket(due=now)
        # The bucket holds `limit` messages: a message may go when it is at most
        # `window - interval` ahead of the steady rate.
        send_at = max(now, bucket.due - (self.window - interval))
        bucket.due += interval
        if send_at - now < 1e-6:  # within rounding of the sum of intervals: not paced
            return AT_ONCE
        notice = not bucket.told
        bucket.told = True
        return Pace(delay=send_at - now, notice=notice)

    def _prune(self, now: float) -> None:
        """Forget full buckets, at most once a window (memory stays small)."""
        if now - self._pruned_at < self.window:
            return
        self._pruned_at = now
        for telegram_id in [key for key, bucket in self._buckets.items() if bucket.due <= now]:
            del self._buckets[telegram_id]

    def __len__(self) -> int:
        return len(self._buckets)
