"""``python -m bot.standin --port 8081 --token T``: run the stand-in on its own.

Prints the API root on the first line of stdout and serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import BotApiStandin


async def _serve(args: argparse.Namespace) -> None:
    standin = BotApiStandin(
        token=args.token, bot_username=args.username, host=args.host, port=args.port
    )
    await standin.start()
    print(standin.url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await standin.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--username", default="helpdesk_test_bot")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
