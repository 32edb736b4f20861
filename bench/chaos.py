"""Chaos: customers and agents write while Telegram misbehaves and the bot is SIGKILLed.

    .venv/bin/python bench/chaos.py [--messages 1000] [--tickets 50] [--agents 10] [--kills 5]
                                    [--fault-rate 0.1] [--rate 20] [--seed 1] [--no-write]

The bot runs as a separate process (`python bot.py run`, default settings: rate limiter on)
against the Bot API stand-in, which runs in this process. The database starts with one ticket
per customer, each assigned to an agent (written with the real services). Then, paced at
`--rate` messages a second, customers write to their agent and agents answer, either by
replying to a relayed message of the ticket or with `/reply N text`, while

- the stand-in fails `--fault-rate` of the bot's calls (429 with retry_after, 500, 502,
  connections closed before the call was accepted, half of them held past PTB's 5 s read
  timeout, and "drop_after_accept": the message is stored and shown, then the connection is
  closed without an answer), and
- the bot process is SIGKILLed and restarted `--kills` times at random moments of the load.

Everything random (the script of messages, the kill moments, the faults' sequence) comes from
`--seed`; which call meets which fault also depends on timing, so two runs differ in detail.

When the load stops the faults are switched off and the bench waits for the bot to drain
(bounded by `--drain-limit`). Checked afterwards, per message (each carries a sequence number):

- lost: a message that never reached its destination chat;
- order: per destination chat, the messages of each sender arrive in the order the stand-in
  received them from that sender (every copy counted, so a late duplicate is a violation too;
  messages of different senders are handled concurrently and may interleave);
- duplicates: extra copies. Telegram's guarantee allows one only where an accepted message's
  answer never reached the bot. The stand-in marks copies accepted under drop_after_accept;
  after the run, every relayed copy whose message id the bot never stored (no chat_message_refs
  row) is an accepted-but-unanswered send (drop_after_accept, or the answer lost to a kill or a
  client timeout). A message with more extra copies than such unanswered copies of its own is
  an unexplained duplicate.

The section `## Chaos (bench/chaos.py)` of BENCHMARKS.md is rewritten unless `--no-write`.
tests/e2e/test_chaos.py runs a reduced form through `run_chaos`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from sqlalchemy import func, select  # noqa: E402

from bench.common import machine, scratch_folder, write_section  # noqa: E402
from bench.people import AGENT_BASE, agent_of, customer_id, populate  # noqa: E402
from bot.delivery import PENDING  # noqa: E402
from bot.standin import BotApiStandin  # noqa: E402
from bot.standin.faults import Fault  # noqa: E402
from storage.db import create_engine, create_session_factory  # noqa: E402
from storage.models import ChatMessageRef, Delivery  # noqa: E402
from tests.support.harness import ADMIN_ID, BOT_USERNAME, TOKEN  # noqa: E402
from tests.support.process import bot_environment, terminate  # noqa: E402

SECTION = "## Chaos (bench/chaos.py)"
FAULT_KINDS = ["429", "500", "502", "timeout", "drop_after_accept"]
TIMEOUT_HOLD = 6.0  # seconds: past PTB's default 5 s read timeout, so the client times out
KILL_WINDOW = 2.0  # seconds: a copy accepted this shortly before a SIGKILL was in flight
TAG = "chaos "  # every scripted message's text: "chaos <seq>"


@dataclass
class Config:
    messages: int = 1000
    tickets: int = 50
    agents: int = 10
    kills: int = 5
    fault_rate: float = 0.1
    rate: float = 20.0  # scripted messages a second (Telegram allows the bot ~30 calls a second)
    agent_share: float = 0.4  # of the messages, written by agents
    seed: int = 1
    drain_limit: float = 120.0  # seconds the bench waits for the drain at most


# -- the database: one ticket per customer, assigned ------------------------------------------
# -- what the stand-in sees -------------------------------------------------------------------
@dataclass
class Copy:
    """One copy of a scripted message as the stand-in stored it in the destination chat."""

    chat_id: int
    message_id: int
    seq: int
    dropped: bool  # accepted under drop_after_accept: the bot never got the answer
    at: float


class Observer:
    """Hooks into the stand-in: faults as served, getUpdates as received, relayed copies."""

    def __init__(self, standin: BotApiStandin, seed: int) -> None:
        self.standin = standin
        self.copies: list[Copy] = []
        self.by_seq: dict[int, list[Copy]] = defaultdict(list)
        self.polls = 0  # getUpdates requests received
        self.first_poll_at: float | None = None
        self.faults: Counter[str] = Counter()
        self._current: Fault | None = None
        self._hold_rng = random.Random(seed * 7919 + 1)
        take, bot_message = standin.faults.take, standin.store.bot_message

        def observed_take(method: str, params: dict) -> Fault | None:
            if method.lower() == "getupdates":
                self.polls += 1
                if self.first_poll_at is None:
                    self.first_poll_at = time.perf_counter()
            fault = take(method, params)
            if fault is not None:
                if fault.kind == "timeout" and self._hold_rng.random() < 0.5:
                    fault = Fault(fault.kind, fault.retry_after, TIMEOUT_HOLD)
                kind = fault.kind + (" (held)" if fault.hold else "")
                self.faults[kind] += 1
            # The call runs right after this, with no await before its message is stored
            # (sendMessage/copyMessage), so bot_message below sees this call's fault.
            self._current = fault
            return fault

        def observed_bot_message(chat, content):  # type: ignore[no-untyped-def]
            message = bot_message(chat, content)
            body = message.get("text") or message.get("caption") or ""
            last = body.rsplit("\n", 1)[-1]
            if last.startswith(TAG) and last[len(TAG) :].isdigit():
                dropped = self._current is not None and self._current.kind == "drop_after_accept"
                copy = Copy(
                    chat.id,
                    message["message_id"],
                    int(last[len(TAG) :]),
                    dropped,
                    time.perf_counter(),
                )
                self.copies.append(copy)
                self.by_seq[copy.seq].append(copy)
            return message

        standin.faults.take = observed_take  # type: ignore[method-assign]
        standin.store.bot_message = observed_bot_message  # type: ignore[method-assign]


class BotRunner:
    """`python bot.py run` as a child process: start (until its first getUpdates), SIGKILL."""

    def __init__(self, observer: Observer, env: dict[str, str], log: Path) -> None:
        self.observer, self.env, self.log = observer, env, log
        self.process: asyncio.subprocess.Process | None = None
        self.failed_starts = 0
        self.start_seconds: list[float] = []

    async def start(self, *, within: float = 30, attempts: int = 5) -> None:
        """Start; a process that exits before polling is started again (a supervisor would)."""
        for _ in range(attempts):
            polls = self.observer.polls
            began = time.perf_counter()
            with self.log.open("ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "bot.py", "run", cwd=ROOT, env=self.env, stdout=log, stderr=log
                )
            while self.observer.polls <= polls:
                if self.process.returncode is not None:
                    break
                if time.perf_counter() - began > within:
                    raise RuntimeError(f"the bot did not poll within {within} s")
                await asyncio.sleep(0.02)
            if self.process.returncode is None:
                self.start_seconds.append(time.perf_counter() - began)
                return
            self.failed_starts += 1
        raise RuntimeError(f"the bot did not start:\n{self.log.read_text()[-3000:]}")

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None:
            await terminate(self.process, within=15)


# -- the script -------------------------------------------------------------------------------
@dataclass
class Scripted:
    seq: int
    sender: int
    destination: int
    ticket: int
    how: str  # "customer", "reply" (to a relayed message), "command" (/reply N text)
    injected_at: float = 0.0


def script(config: Config, numbers: dict[int, int]) -> list[Scripted]:
    rng = random.Random(config.seed)
    items = []
    for seq in range(config.messages):
        c = rng.randrange(config.tickets)
        customer, agent = customer_id(c), agent_of(c, config.agents)
        if rng.random() >= config.agent_share:
            items.append(Scripted(seq, customer, agent, numbers[customer], "customer"))
        else:
            how = "reply" if rng.random() < 0.5 else "command"
            items.append(Scripted(seq, agent, customer, numbers[customer], how))
    return items


@dataclass
class Outcome:
    config: Config
    messages: int = 0
    lost: int = 0
    order_violations: int = 0
    duplicates: int = 0
    unexplained_duplicates: int = 0
    unanswered: int = 0  # accepted relayed copies the bot never stored the id of
    dropped_after_accept: int = 0  # of those, the stand-in's drop_after_accept
    lost_to_kills: int = 0  # of those, accepted less than KILL_WINDOW before a SIGKILL
    replies_to_relayed: int = 0
    reply_commands: int = 0
    kills: int = 0
    failed_starts: int = 0
    load_seconds: float = 0.0
    drain_seconds: float | None = None  # None: not drained within the limit
    pending_after: int = 0
    not_sent_rows: int = 0  # deliveries of scripted messages marked failed or blocked
    faults: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    total_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.order_violations == 0
            and self.unexplained_duplicates == 0
            and self.duplicates <= self.unanswered
            and self.drain_seconds is not None
            and self.not_sent_rows == 0
        )

    @property
    def other_unanswered(self) -> int:
        return self.unanswered - self.dropped_after_accept - self.lost_to_kills

    def summary(self) -> str:
        drain = "NOT DRAINED" if self.drain_seconds is None else f"{self.drain_seconds:.2f} s"
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        return "\n".join(
            [
                f"messages: {self.messages} over {self.config.tickets} tickets"
                f" ({self.replies_to_relayed} agent replies to a relayed message,"
                f" {self.reply_commands} /reply N text, the rest from customers);"
                f" load {self.load_seconds:.1f} s",
                f"faults: {sum(self.faults.values())} of {self.calls} calls ({faults})",
                f"kills: {self.kills} SIGKILLs, restarts"
                f" {', '.join(f'{s:.1f}' for s in self.restart_seconds)} s to the first"
                f" getUpdates; starts that failed: {self.failed_starts}",
                f"lost: {self.lost}",
                f"order violations (per destination chat and sender): {self.order_violations}",
                f"duplicated: {self.duplicates}; accepted-but-unanswered relayed sends:"
                f" {self.unanswered} (drop_after_accept {self.dropped_after_accept}; in flight"
                f" at a SIGKILL {self.lost_to_kills}; other, e.g. a client timeout after the"
                f" stand-in accepted {self.other_unanswered});"
                f" unexplained duplicates: {self.unexplained_duplicates}",
                f"time to drain after the load stopped: {drain}",
                f"deliveries still pending: {self.pending_after}; failed or blocked:"
                f" {self.not_sent_rows}",
                f"verdict: {'PASS' if self.ok else 'FAIL'} (total {self.total_seconds:.0f} s)",
            ]
        )


async def _reply_target(sessions, agent: int, ticket: int) -> int | None:  # type: ignore[no-untyped-def]
    """The newest message of the ticket in the agent's chat that the bot knows (stored id)."""
    async with sessions() as session:
        return await session.scalar(
            select(ChatMessageRef.telegram_message_id)
            .where(ChatMessageRef.chat_id == agent, ChatMessageRef.ticket_id == ticket)
            .order_by(ChatMessageRef.id.desc())
            .limit(1)
        )


async def _pending(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == PENDING)
            )
            or 0
        )


async def wait_drained(sessions, *, within: float) -> bool:  # type: ignore[no-untyped-def]
    """Wait until no delivery is pending (True), at most `within` seconds."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        if not await _pending(sessions):
            return True
        await asyncio.sleep(0.1)
    return False


async def run_chaos(config: Config, url: str, folder: Path) -> Outcome:
    """Populate the (migrated, empty) database at `url`, run the chaos, check the outcome."""
    began = time.perf_counter()
    numbers = await populate(url, config.tickets, config.agents, description="Chaos ticket")
    items = script(config, numbers)
    outcome = Outcome(config, messages=len(items))
    rng = random.Random(config.seed + 1)
    load_seconds = len(items) / config.rate
    kill_at = sorted(rng.uniform(0.1, 0.9) * load_seconds for _ in range(config.kills))
    killed_at: list[float] = []
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        observer = Observer(standin, config.seed)
        people = [ADMIN_ID]
        people += [AGENT_BASE + a for a in range(config.agents)]
        people += [customer_id(c) for c in range(config.tickets)]
        for telegram_id in people:
            standin.user(telegram_id, first_name=f"User{telegram_id}").chat.known = True
        bot = BotRunner(observer, bot_environment(standin, url), folder / "bot.log")
        await bot.start()
        try:
            # The assignment notices queued by the setup go out before the chaos begins.
            await wait_drained(sessions, within=60)
            standin.faults.random(rate=config.fault_rate, kinds=FAULT_KINDS, seed=config.seed)
            start = time.perf_counter()

            async def kills() -> None:
                for at in kill_at:
                    await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
                    killed_at.append(time.perf_counter())
                    await bot.kill()
                    outcome.kills += 1
                    restarted = time.perf_counter()
                    await bot.start()
                    outcome.restart_seconds.append(time.perf_counter() - restarted)

            killer = asyncio.create_task(kills())
            try:
                for k, item in enumerate(items):
                    await asyncio.sleep(max(0.0, start + k / config.rate - time.perf_counter()))
                    sender = standin.user(item.sender)
                    text = f"{TAG}{item.seq}"
                    if item.how == "reply":
                        target = await _reply_target(sessions, item.sender, item.ticket)
                        if target is None:
                            item.how = "command"
                        else:
                            await sender.reply(target, text)
                            outcome.replies_to_relayed += 1
                    if item.how == "command":
                        await sender.send(f"/reply {item.ticket} {text}")
                        outcome.reply_commands += 1
                    elif item.how == "customer":
                        await sender.send(text)
                    item.injected_at = time.perf_counter()
                load_end = time.perf_counter()
                outcome.load_seconds = load_end - start
                standin.faults.clear()
                await killer  # a restart still under way finishes (the drain clock runs)
            finally:
                killer.cancel()

            # Drain: every message has a copy in its chat (the bound keeps the bench finite).
            expected = {item.seq for item in items}
            while time.perf_counter() - load_end < config.drain_limit:
                if expected <= observer.by_seq.keys():
                    last = max(observer.by_seq[seq][0].at for seq in expected)
                    outcome.drain_seconds = max(0.0, last - load_end)
                    break
                await asyncio.sleep(0.05)
            # Whatever the bot still had queued (late duplicates would show up now).
            await wait_drained(sessions, within=15)
            await asyncio.sleep(1.0)
        finally:
            await bot.stop()
        outcome.failed_starts = bot.failed_starts
        outcome.faults = observer.faults
        outcome.calls = len(standin.calls)
        _check(outcome, items, observer)

    async with sessions() as session:
        outcome.pending_after = await _pending(sessions)
        refs = await session.execute(
            select(ChatMessageRef.chat_id, ChatMessageRef.telegram_message_id)
        )
        known = {(chat_id, message_id) for chat_id, message_id in refs}
        outcome.not_sent_rows = int(
            await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(["failed", "blocked"]))
            )
            or 0
        )
    await engine.dispose()
    for copies in observer.by_seq.values():
        unanswered = [c for c in copies if (c.chat_id, c.message_id) not in known]
        outcome.unanswered += len(unanswered)
        outcome.dropped_after_accept += sum(c.dropped for c in copies)
        outcome.lost_to_kills += sum(
            not c.dropped and any(0 <= k - c.at < KILL_WINDOW for k in killed_at)
            for c in unanswered
        )
        if len(copies) - 1 > len(unanswered):
            outcome.unexplained_duplicates += len(copies) - 1 - len(unanswered)
    outcome.total_seconds = time.perf_counter() - began
    return outcome


def _check(outcome: Outcome, items: list[Scripted], observer: Observer) -> None:
    """Lost, duplicated and out-of-order messages, from the copies the stand-in stored."""
    by_seq = {item.seq: item for item in items}
    for item in items:
        copies = observer.by_seq.get(item.seq, [])
        if not copies:
            outcome.lost += 1
        outcome.duplicates += max(len(copies) - 1, 0)
        if any(copy.chat_id != item.destination for copy in copies):
            outcome.lost += 1  # arrived in the wrong chat: lost for its reader
    # Per destination chat and sender: sequence numbers never go down (copies included).
    last: dict[tuple[int, int], int] = {}
    for copy in observer.copies:
        item = by_seq.get(copy.seq)
        if item is None:
            continue
        key = (copy.chat_id, item.sender)
        if key in last and copy.seq < last[key]:
            outcome.order_violations += 1
        last[key] = max(copy.seq, last.get(key, -1))


NOTES = """\
How to read it: "lost" counts scripted messages with no copy in their destination chat;
"duplicated" counts extra copies; "accepted-but-unanswered" counts relayed copies the stand-in
stored whose message id the bot never recorded (so it sent them again): drop_after_accept
faults, and sends in flight when the process was SIGKILLed. Every duplicate must be explained
by one of those copies of the same message (`unexplained duplicates` = 0). Time to drain runs
from the last scripted message (faults switched off then) to the arrival of the last message
that had not arrived yet; it includes a restart still under way and rows waiting out their
back-off.

Found and fixed by this run: a 429, 5xx or timeout of the start-up setMyCommands call made
`bot.py run` exit (2 of 6 starts in the first run; fd42f8a); the bench restarts a bot that
exits while starting, as a supervisor would, and reports it as "starts that failed".

Known limit, not a loss: agents here reply to the newest message of the ticket the bot knows.
An agent who quotes the copy whose answer was lost (the first of a duplicated pair) is told
"That message is not about a ticket..." since the bot never learned that copy's id, and has to
send it again (or use /reply N)."""


# -- the command ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Config()
    parser.add_argument("--messages", type=int, default=defaults.messages)
    parser.add_argument("--tickets", type=int, default=defaults.tickets)
    parser.add_argument("--agents", type=int, default=defaults.agents)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument("--rate", type=float, default=defaults.rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--drain-limit", type=float, default=defaults.drain_limit)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep the folder (bot log, database)")
    args = parser.parse_args()
    config = Config(
        messages=args.messages,
        tickets=args.tickets,
        agents=args.agents,
        kills=args.kills,
        fault_rate=args.fault_rate,
        rate=args.rate,
        seed=args.seed,
        drain_limit=args.drain_limit,
    )
    command = " ".join(["python bench/chaos.py", *sys.argv[1:]])
    with scratch_folder("chaos-bench-", keep=args.keep) as folder:
        from storage.migrate import upgrade

        url = f"sqlite+aiosqlite:///{folder / 'chaos.db'}"
        upgrade(url)
        # The whole run is bounded: load, at most drain_limit, and some slack for the restarts.
        limit = config.messages / config.rate + config.drain_limit + 120
        outcome = asyncio.run(asyncio.wait_for(run_chaos(config, url, folder), limit))
        text = "\n".join(
            [
                "```",
                f"machine: {machine()}",
                f"command: {command}",
                f"seed {config.seed}; {config.agents} agents; rate {config.rate:g} msg/s;"
                f" fault rate {config.fault_rate:g} ({', '.join(FAULT_KINDS)});"
                f" rate limiter on (default settings), SQLite",
                outcome.summary(),
                "```",
                "",
                NOTES,
            ]
        )
        print(text)
        if not args.no_write:
            write_section(SECTION, text)
        return 0 if outcome.ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
