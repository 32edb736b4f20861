"""Fault injection: make the next matching Bot API calls fail the way Telegram or a network can.

Kinds:

* ``"429"``: ``Too Many Requests: retry after N`` with ``parameters.retry_after`` (nothing done).
* ``"500"`` / ``"502"``: Internal Server Error / Bad Gateway (nothing done).
* ``"403"``: ``Forbidden: bot was blocked by the user`` (nothing done).
* ``"timeout"``: the request is dropped before it is accepted: nothing is done or recorded; the
  connection is held ``hold`` seconds (longer than the client's read timeout gives a client
  timeout) and then closed without an answer (``hold=0``: closed at once).
* ``"drop_after_accept"``: the call is carried out (the message IS stored and delivered), then
  the connection is closed without an answer (after ``hold`` seconds), so the client thinks it
  failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KINDS = frozenset({"429", "500", "502", "403", "timeout", "drop_after_accept"})
# Methods that random faults leave alone unless named: failing them only stalls start-up/polling.
_RANDOM_EXEMPT = frozenset(
    {"getme", "getupdates", "setwebhook", "deletewebhook", "getwebhookinfo", "close", "logout"}
)


@dataclass
class Fault:
    """One injected fault as handed to the server."""

    kind: str
    retry_after: int = 1
    hold: float = 0.0


@dataclass
class _Rule:
    method: str | None  # lower-case method name, None = any
    fault: Fault
    times: int | None  # None = forever
    chat_id: str | None


class FaultInjector:
    """Rules consulted, in the order added, before each Bot API call (``standin.faults``)."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._random: tuple[random.Random, float, list[str], frozenset[str] | None] | None = None
        self.injected: list[tuple[str, str]] = []  # (method, kind) of every fault served

    def add(
        self,
        method: str | None,
        kind: str,
        *,
        retry_after: int = 1,
        times: int | None = 1,
        chat_id: int | str | None = None,
        hold: float = 0.0,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (None: any method; ``times=None``: all)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
        self._rules.append(
            _Rule(
                method.lower() if method else None,
                Fault(kind, retry_after, hold),
                times,
                None if chat_id is None else str(chat_id),
            )
        )

    def random(
        self,
        rate: float = 0.1,
        kinds: list[str] | None = None,
        seed: int | None = None,
        methods: list[str] | None = None,
        retry_after: int = 1,
    ) -> None:
        """Fail a ``rate`` share of calls with a random kind (chaos tests), reproducibly by seed.

        Without ``methods`` every method except getMe/getUpdates/webhook setup/close/logOut.
        """
        kinds = list(kinds or ["429", "502", "timeout", "drop_after_accept"])
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        chosen = frozenset(m.lower() for m in methods) if methods else None
        self._random = (random.Random(seed), rate, kinds, chosen)
        self._random_retry_after = retry_after

    def clear(self) -> None:
        """Remove every rule and stop random faults."""
        self._rules.clear()
        self._random = None

    def take(self, method: str, params: dict) -> Fault | None:
        """The fault for this call, consuming one use of the matching rule, or None."""
        lower = method.lower()
        for rule in self._rules:
            if rule.method is not None and rule.method != lower:
                continue
            if rule.chat_id is not None and str(params.get("chat_id")) != rule.chat_id:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
            self.injected.append((method, rule.fault.kind))
            return rule.fault
        if self._random is not None:
            rng, rate, kinds, chosen = self._random
            eligible = lower in chosen if chosen is not None else lower not in _RANDOM_EXEMPT
            if eligible and rng.random() < rate:
                kind = rng.choice(kinds)
                self.injected.append((method, kind))
                return Fault(kind, self._random_retry_after)
        return None
