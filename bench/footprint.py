"""Footprint: the bot process's resident memory, idle and after 10,000 relayed messages, and
the time from `python bot.py run` to its first getUpdates.

    .venv/bin/python bench/footprint.py [--messages 10000] [--starts 7] [--no-write]

The bot runs as a separate process against the Bot API stand-in (in this process), on a SQLite
file with 50 customers, each with a ticket assigned to one of 10 agents (bench/chaos.py's
setup). Measured:

- start-up: from spawning `python bot.py run` to the stand-in receiving the bot's first
  getUpdates (imports, settings, migration check, initialize, menus), median of `--starts`
  starts on the populated database, each stopped with SIGTERM;
- memory (RSS of the bot process, psutil): idle after start (startup deliveries sent, then
  `--idle` seconds of nothing); after relaying `--messages` customer messages (in batches
  of `--batch`, each batch waited for), sampled at the halfway point and after `--idle`
  seconds of idle again; the peak sampled during the load;
- memory after the first knowledge-base search (examples/kb imported; a customer's /faq loads
  the embedding model, which the bot loads only then), after `--idle` seconds of idle.

Targets: idle under 120 MB, no growth beyond 20% from idle to idle-after-load, start-up under
2 s, under 150 MB idle once the knowledge base's model is loaded. The relay load runs with
RATE_LIMITER=off (as bench/relay.py) so that 10,000 messages take minutes, not the ~6 minutes
Telegram's 30 messages a second would impose.
The section `## Footprint (bench/footprint.py)` of BENCHMARKS.md is rewritten unless
`--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from bench.chaos import TAG, wait_drained  # noqa: E402
from bench.common import machine, scratch_folder, write_section  # noqa: E402
from bench.people import customer_id, populate  # noqa: E402
from bot.standin import BotApiStandin  # noqa: E402
from storage.db import create_engine, create_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.support.harness import ADMIN_ID, BOT_USERNAME, TOKEN  # noqa: E402
from tests.support.process import bot_environment, terminate  # noqa: E402

SECTION = "## Footprint (bench/footprint.py)"
CUSTOMERS, AGENTS = 50, 10
IDLE_TARGET_MB, GROWTH_TARGET, STARTUP_TARGET_S = 120.0, 0.20, 2.0
KB_TARGET_MB = 150.0
KB_EXAMPLES = ROOT / "examples" / "kb"
MB = 1024 * 1024


@dataclass
class Figures:
    startups: list[float] = field(default_factory=list)
    idle_mb: float = 0.0
    halfway_mb: float = 0.0
    peak_mb: float = 0.0
    after_mb: float = 0.0
    relayed: int = 0
    relay_seconds: float = 0.0
    kb_mb: float = 0.0

    @property
    def growth(self) -> float:
        return self.after_mb / self.idle_mb - 1

    @property
    def startup(self) -> float:
        return statistics.median(self.startups)


class Standin:
    """The stand-in with two counters: getUpdates received, scripted messages arrived."""

    def __init__(self, standin: BotApiStandin) -> None:
        self.standin = standin
        self.polls = 0
        self.arrived = 0
        take, bot_message = standin.faults.take, standin.store.bot_message

        def counting_take(method: str, params: dict):  # type: ignore[no-untyped-def]
            if method.lower() == "getupdates":
                self.polls += 1
            return take(method, params)

        def counting_bot_message(chat, content):  # type: ignore[no-untyped-def]
            message = bot_message(chat, content)
            if (message.get("text") or "").rsplit("\n", 1)[-1].startswith(TAG):
                self.arrived += 1
            return message

        standin.faults.take = counting_take  # type: ignore[method-assign]
        standin.store.bot_message = counting_bot_message  # type: ignore[method-assign]


async def spawn(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "bot.py", "run", cwd=ROOT, env=env, stdout=out, stderr=out
        )


async def started(process: asyncio.subprocess.Process, counter: Standin, polls: int) -> float:
    """Seconds until the stand-in received a getUpdates beyond `polls` (from now)."""
    began = time.perf_counter()
    while counter.polls <= polls:
        if process.returncode is not None:
            raise RuntimeError("the bot exited while starting")
        if time.perf_counter() - began > 60:
            raise RuntimeError("the bot did not poll within 60 s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - began


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / MB


async def measure(args: argparse.Namespace, url: str, folder: Path) -> Figures:
    figures = Figures()
    log = folder / "bot.log"
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
            counter = Standin(standin)
            for telegram_id in [ADMIN_ID, *range(20_000, 20_000 + AGENTS)]:
                standin.user(telegram_id).chat.known = True
            customers = [standin.user(customer_id(c)) for c in range(CUSTOMERS)]
            for customer in customers:
                customer.chat.known = True

            # Start-up: spawn to first getUpdates, several times (the first also sends the
            # setup's notices, after polling started).
            env = bot_environment(standin, url)
            for _ in range(args.starts):
                began = time.perf_counter()
                process = await spawn(env, log)
                polls = counter.polls
                await started(process, counter, polls)
                figures.startups.append(time.perf_counter() - began)
                await wait_drained(sessions, within=60)
                await terminate(process, within=20)
                print(f"start-up: {figures.startups[-1]:.2f} s", flush=True)

            # Memory, with the relay at full speed.
            process = await spawn(bot_environment(standin, url, RATE_LIMITER="off"), log)
            await started(process, counter, counter.polls)
            try:
                await wait_drained(sessions, within=60)
                await asyncio.sleep(args.idle)
                figures.idle_mb = rss_mb(process.pid)
                print(f"idle: {figures.idle_mb:.1f} MB", flush=True)

                began = time.perf_counter()
                sent = 0
                while sent < args.messages:
                    batch = min(args.batch, args.messages - sent)
                    for k in range(batch):
                        await customers[(sent + k) % CUSTOMERS].send(f"{TAG}{sent + k}")
                    sent += batch
                    deadline = time.perf_counter() + 120
                    while counter.arrived < sent:
                        if time.perf_counter() > deadline or process.returncode is not None:
                            raise RuntimeError(f"only {counter.arrived} of {sent} arrived")
                        figures.peak_mb = max(figures.peak_mb, rss_mb(process.pid))
                        await asyncio.sleep(0.05)
                    if not figures.halfway_mb and sent >= args.messages // 2:
                        figures.halfway_mb = rss_mb(process.pid)
                figures.relayed = counter.arrived
                figures.relay_seconds = time.perf_counter() - began
                print(
                    f"relayed {figures.relayed} in {figures.relay_seconds:.0f} s;"
                    f" peak {figures.peak_mb:.1f} MB",
                    flush=True,
                )
                await wait_drained(sessions, within=60)
                await asyncio.sleep(args.idle)
                figures.after_mb = rss_mb(process.pid)
                print(f"idle after the load: {figures.after_mb:.1f} MB", flush=True)

                asking = customers[0]
                before = len(asking.inbox)
                await asking.send("/faq where is my parcel")
                await asking.wait_until(lambda inbox: len(inbox) > before, timeout=60)
                await asyncio.sleep(args.idle)
                figures.kb_mb = rss_mb(process.pid)
                print(f"idle after a knowledge-base search: {figures.kb_mb:.1f} MB", flush=True)
            finally:
                await terminate(process, within=20)
    finally:
        await engine.dispose()
    return figures


async def load_kb(url: str) -> None:
    """The example knowledge base, so that a /faq search loads the embedding model."""
    from bot.kb.files import read_folder
    from bot.services import kb

    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            await kb.import_articles(session, read_folder(KB_EXAMPLES))
            await session.commit()
    finally:
        await engine.dispose()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(figures: Figures, args: argparse.Namespace, command: str) -> str:
    starts = ", ".join(f"{s:.2f}" for s in figures.startups)
    return "\n".join(
        [
            "```",
            f"machine: {machine()}",
            f"command: {command}",
            f"setup: {CUSTOMERS} customers, {AGENTS} agents, one assigned ticket each, SQLite;"
            f" {args.messages} messages relayed in batches of {args.batch}, RATE_LIMITER=off;"
            f" idle = {args.idle:g} s without traffic",
            "```",
            "",
            "| figure | value | target |",
            "|---|---|---|",
            f"| start-up to first getUpdates (median of {len(figures.startups)}) |"
            f" {figures.startup:.2f} s | < {STARTUP_TARGET_S:g} s"
            f" {verdict(figures.startup < STARTUP_TARGET_S)} |",
            f"| RSS idle after start | {figures.idle_mb:.1f} MB | < {IDLE_TARGET_MB:g} MB"
            f" {verdict(figures.idle_mb < IDLE_TARGET_MB)} |",
            f"| RSS after {args.messages // 2} messages | {figures.halfway_mb:.1f} MB | |",
            f"| RSS peak during the load | {figures.peak_mb:.1f} MB | |",
            f"| RSS idle after {figures.relayed} messages | {figures.after_mb:.1f} MB"
            f" ({figures.growth:+.1%}) | growth ≤ {GROWTH_TARGET:.0%}"
            f" {verdict(figures.growth <= GROWTH_TARGET)} |",
            f"| relay time for {figures.relayed} messages | {figures.relay_seconds:.0f} s | |",
            f"| RSS idle after the first knowledge-base search (model loaded) |"
            f" {figures.kb_mb:.1f} MB | < {KB_TARGET_MB:g} MB"
            f" {verdict(figures.kb_mb < KB_TARGET_MB)} |",
            "",
            f"Start-ups (s): {starts}.",
            "",
            "The knowledge base's model is loaded on the first search and then kept. Since the"
            " switch from WordLlama (137 MB here once loaded) to all-MiniLM-L6-v2 on onnxruntime,"
            " which the search quality targets needed (see Knowledge base below), a bot that has"
            f" searched carries {figures.kb_mb - figures.after_mb:.0f} MB more: onnxruntime's"
            " library and session, whose int8 weights it unpacks into float32 ones (without that"
            " unpacking a search takes about 100 ms instead of 5; the temporaries of the load are"
            " handed back with malloc_trim). So the row above misses this bench's own 150 MB"
            " target for a loaded model; a bot that has not searched stays at the idle figure."
            " Measured in a scratch process: dropping the session and trimming the heap gives"
            " back all but about 40 MB (onnxruntime's library stays mapped), so a release after"
            " some idle minutes would still leave the bot a little over 150 MB; not done.",
            "",
            "Before commit f0007cb the bot process imported matplotlib (with numpy and PIL) at"
            " start for the /report chart: 139.2 MB idle (target missed) and 1.92 s median"
            " start-up on the same machine. `python -X importtime` showed matplotlib as 1.2 s of"
            " the 3.5 s import of bot.runner on the busy machine; it is now imported when a chart"
            " is drawn. tracemalloc in the bot process (1,500 vs 4,500 relayed messages) showed the"
            " Python heap flat at 65.5 MB: the RSS growth after the load is SQLite's page caches"
            " and the allocator's high-water mark, and it levels off (see the halfway figure).",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before measuring")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep the folder (bot log, database)")
    args = parser.parse_args()
    command = " ".join(["python bench/footprint.py", *sys.argv[1:]])
    with scratch_folder("footprint-bench-", keep=args.keep) as folder:
        url = f"sqlite+aiosqlite:///{folder / 'footprint.db'}"
        upgrade(url)
        asyncio.run(populate(url, CUSTOMERS, AGENTS, description="Footprint ticket"))
        asyncio.run(load_kb(url))
        figures = asyncio.run(measure(args, url, folder))
        text = report(figures, args, command)
        print(text)
        if not args.no_write:
            write_section(SECTION, text)
        ok = (
            figures.startup < STARTUP_TARGET_S
            and figures.idle_mb < IDLE_TARGET_MB
            and figures.growth <= GROWTH_TARGET
            and figures.kb_mb < KB_TARGET_MB
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
