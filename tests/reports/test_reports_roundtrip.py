"""Generator, export → import round trip, summary, chart, and the CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import load_settings
from bot.reports.chart import draw_chart
from bot.reports.metrics import STATUSES
from bot.reports.summary import percentile, summary_for_period
from bot.services import activities
from storage.db import create_engine, create_session_factory
from tests.reports.conftest import run_cli
from tests.support import databases

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2024-05-01T00:00:00Z"


def _report(settings, tmp_path: Path, name: str) -> list[dict]:
    out = tmp_path / name
    assert (
        run_cli(settings, "report", "--format", "json", "--as-of", AS_OF, "--output", str(out)) == 0
    )
    return json.loads(out.read_text())


def test_generate_same_seed_gives_same_file(settings, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert run_cli(settings, "generate", "--tickets", "50", "--seed", "3", "--output", str(a)) == 0
    assert run_cli(settings, "generate", "--tickets", "50", "--seed", "3", "--output", str(b)) == 0
    assert run_cli(settings, "generate", "--tickets", "50", "--seed", "4", "--output", str(c)) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    document = json.loads(a.read_text())
    records = document["activities_data"]
    assert document["metadata"]["activities_count"] == len(records)
    statuses = {r["activity"].get("status") for r in records} - {None}
    assert statuses == set(STATUSES)
    assert any(r["performer_type"] == "system" for r in records)
    assert any(r["activity"].get("note", {}).get("private") for r in records)


def test_export_then_import_into_empty_database_gives_same_report(settings, tmp_path: Path) -> None:
    export = tmp_path / "gen.json"
    assert (
        run_cli(settings, "generate", "--tickets", "300", "--seed", "9", "--output", str(export))
        == 0
    )
    assert run_cli(settings, "import-activities", str(export)) == 0
    before = _report(settings, tmp_path, "before.json")
    assert len(before) == 300
    again = tmp_path / "again.json"
    assert run_cli(settings, "export-activities", str(again)) == 0
    other = load_settings(database_url=databases.database_url(tmp_path, name="empty"))
    assert run_cli(other, "import-activities", str(again)) == 0
    assert _report(other, tmp_path, "after.json") == before


def test_export_telegram_history_round_trips_same_times(settings, tmp_path) -> None:
    t0 = datetime(2024, 4, 1, 8, 0, tzinfo=UTC)
    steps = [
        (0, 5, {"status": "Open", "priority": 3, "requester": 5}),
        (90, 9, {"note": {"id": 1, "type": 1}}),
        (600, 9, {"status": "Resolved"}),
    ]

    async def write() -> None:
        engine = create_engine(settings.database_url)
        async with create_session_factory(engine)() as session, session.begin():
            for seconds, who, activity in steps:
                await activities.record(
                    session, ticket_id=1, activity=activity, performer_id=who,
                    at=t0 + timedelta(seconds=seconds),
                )  # fmt: skip
        await engine.dispose()

    asyncio.run(write())
    rows = _report(settings, tmp_path, "tg.json")
    assert (rows[0]["source"], rows[0]["first_response"], rows[0]["full_resolution"]) == (
        "telegram", 90, 600,
    )  # fmt: skip
    out = tmp_path / "tg-export.json"
    assert run_cli(settings, "export-activities", str(out), "--source", "telegram") == 0
    records = json.loads(out.read_text())["activities_data"]
    assert records[0]["performed_at"] == "01-04-2024 08:00:00 +0000"
    assert records[0]["source"] == "telegram"


def test_export_since_until_filters_activities(settings, tmp_path: Path) -> None:
    export = tmp_path / "gen.json"
    assert (
        run_cli(settings, "generate", "--tickets", "100", "--seed", "1", "--output", str(export))
        == 0
    )
    assert run_cli(settings, "import-activities", str(export)) == 0
    out = tmp_path / "part.json"
    args = ("export-activities", str(out), "--since", "2024-02-01", "--until", "2024-02-10")
    assert run_cli(settings, *args) == 0
    document = json.loads(out.read_text())
    days = {r["performed_at"][:10] for r in document["activities_data"]}
    assert days and all(d[3:] == "02-2024" and 1 <= int(d[:2]) <= 10 for d in days)
    assert document["metadata"]["activities_count"] == len(document["activities_data"])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_chart_is_1200_by_800_png(settings, tmp_path: Path) -> None:
    export = tmp_path / "gen.json"
    assert (
        run_cli(settings, "generate", "--tickets", "200", "--seed", "2", "--output", str(export))
        == 0
    )
    assert run_cli(settings, "import-activities", str(export)) == 0
    chart, out = tmp_path / "c.png", tmp_path / "s.txt"
    args = ("report", "--summary", "--as-of", AS_OF, "--chart", str(chart), "--output", str(out))
    assert run_cli(settings, *args) == 0
    assert _png_size(chart) == (1200, 800)
    text = out.read_text()
    assert "Tickets: 200" in text and "Reopen rate:" in text and "CSAT:" in text
    empty = tmp_path / "empty.png"
    draw_chart([], empty)
    assert _png_size(empty) == (1200, 800)


def test_report_summary_json_has_groups(settings, tmp_path: Path) -> None:
    export = tmp_path / "gen.json"
    assert (
        run_cli(settings, "generate", "--tickets", "120", "--seed", "5", "--output", str(export))
        == 0
    )
    assert run_cli(settings, "import-activities", str(export)) == 0
    out = tmp_path / "s.json"
    args = ("report", "--summary", "--format", "json", "--as-of", AS_OF, "--output", str(out))
    assert run_cli(settings, *args) == 0
    summary = json.loads(out.read_text())
    assert summary["tickets"] == 120
    assert {g["label"] for g in summary["by_priority"]} <= {
        "Priority Low", "Priority Medium", "Priority High", "Priority Urgent",
    }  # fmt: skip
    stats = summary["overall"]["metrics"]["first_response"]
    assert stats["count"] > 0 and stats["median"] <= stats["p90"]
    assert 0 <= summary["csat"] <= 1 and 0 <= summary["reopen_rate"] <= 1


async def test_summary_for_period_counts_tickets_created_in_days(factory) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    async with factory() as session, session.begin():
        for number, days_ago, rating in ((1, 1, 5), (2, 3, 2), (3, 10, 4)):
            at = now - timedelta(days=days_ago)
            await activities.record(
                session, ticket_id=number, activity={"status": "Open", "requester": 1},
                performer_id=1, at=at,
            )  # fmt: skip
            await activities.record(
                session, ticket_id=number, activity={"status": "Closed"}, performer_id=2,
                at=at + timedelta(hours=1),
            )  # fmt: skip
            await activities.record(
                session, ticket_id=number, activity={"rating": rating}, performer_id=1,
                at=at + timedelta(hours=2),
            )  # fmt: skip
    async with factory() as session:
        summary = await summary_for_period(session, days=7, as_of=now)
    assert summary.tickets == 2 and summary.rated == 2 and summary.csat == 0.5
    assert summary.overall.metrics["first_resolution"].median == 3600
    assert "Tickets: 2" in summary.text()


def test_percentile_interpolates_linearly() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20], 0.9) == 19
    assert percentile([], 0.5) is None


def test_cli_in_subprocess_reports_bad_date_with_exit_2(tmp_path: Path) -> None:
    url = databases.database_url(tmp_path, name="sub")
    code = (
        "import argparse, sys\n"
        "from bot.config import load_settings\n"
        "from bot.reports import cli\n"
        "p = argparse.ArgumentParser(); cli.add_parser(p.add_subparsers())\n"
        "a = p.parse_args(sys.argv[1:])\n"
        "sys.exit(a.func(a, load_settings()))\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, "report", "--as-of", "tomorrow"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith("--as-of:") and len(done.stderr.splitlines()) == 1
