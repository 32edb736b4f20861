"""import-activities: tolerance, strict (exit 2, nothing written), --skip-invalid, re-import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.reports.freshdesk import RecordError, parse_record
from storage.models import Activity, TicketSummary
from tests.reports.conftest import rec, run_cli, write_export
from tests.support import databases

GOOD = [
    rec(1, "01-03-2024 10:00:00 +0000", {"status": "Open", "requester": 5}, performer_id=5),
    rec(1, "01-03-2024 10:05:00 +0000", {"note": {"id": 1, "type": 1}}),
    rec(2, "01-03-2024 11:00:00 +0000", {"status": "Open", "requester": 6}, performer_id=6),
]
META = {"start_at": "01-03-2024 00:00:00 +0000", "end_at": "02-03-2024 00:00:00 +0000"}


def _counts(settings) -> tuple[int, int]:
    ((acts, rows),) = databases.fetch(
        settings.database_url,
        select(
            select(func.count()).select_from(Activity).scalar_subquery(),
            select(func.count()).select_from(TicketSummary).scalar_subquery(),
        ),
    )
    return acts, rows


def _bad(records: list) -> list:
    return [*GOOD[:2], *records, GOOD[2]]


BAD_RECORDS = [
    ("not-an-object", ["oops"], "activities_data[2]: record"),
    ("bad-date", [rec(3, "2024-03-01 10:00", {})], "activities_data[2]: performed_at"),
    ("impossible-date", [rec(3, "31-02-2024 10:00:00 +0000", {})], "performed_at"),
    ("bad-ticket", [rec("abc", "01-03-2024 10:00:00 +0000", {})], "activities_data[2]: ticket_id"),
    ("missing-activity", [{"ticket_id": 3, "performed_at": "01-03-2024 10:00:00 +0000"}],
     "activities_data[2]: activity"),
    ("bad-priority", [rec(3, "01-03-2024 10:00:00 +0000", {"priority": 9})], "activity.priority"),
    ("bad-private", [rec(3, "01-03-2024 10:00:00 +0000", {"note": {"private": "maybe"}})],
     "activity.note.private"),
    ("bad-performer", [rec(3, "01-03-2024 10:00:00 +0000", {}, performer_id="x")],
     "activities_data[2]: performer_id"),
    # longer than their columns: refused on both databases (PostgreSQL would fail the insert)
    ("long-status", [rec(3, "01-03-2024 10:00:00 +0000", {"status": "S" * 65})],
     "activities_data[2]: activity.status"),
    ("long-performer-type", [rec(3, "01-03-2024 10:00:00 +0000", {}, performer_type="x" * 17)],
     "activities_data[2]: performer_type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "records", "message"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS]
)
def test_import_bad_record_exits_2_and_writes_nothing(
    settings, tmp_path: Path, capsys, name: str, records: list, message: str
) -> None:
    path = write_export(tmp_path / f"{name}.json", _bad(records), META)
    assert run_cli(settings, "import-activities", str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert _counts(settings) == (0, 0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("truncated", '{"metadata": {}, "activities_data": [{"ticket_id": 1,', "malformed JSON"),
        ("garbage", "this is not json", "malformed JSON"),
        ("no-array", '{"metadata": {}}', "activities_data"),
        ("array-top", "[1, 2, 3]", "activities_data"),
        (
            "bad-end",
            '{"metadata": {"end_at": "yesterday"}, "activities_data": []}',
            "metadata.end_at",
        ),
    ],
)
def test_import_malformed_file_exits_2_and_writes_nothing(
    settings, tmp_path: Path, capsys, name: str, content: str, message: str
) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(content)
    assert run_cli(settings, "import-activities", str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert _counts(settings) == (0, 0)


def test_import_truncated_after_good_batches_writes_nothing(settings, tmp_path: Path) -> None:
    records = [rec(i, "01-03-2024 10:00:00 +0000", {"status": "Open"}) for i in range(12_000)]
    text = json.dumps({"metadata": META, "activities_data": records})
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) - 200])
    assert run_cli(settings, "import-activities", str(path)) == 2
    assert _counts(settings) == (0, 0)


def test_import_missing_file_exits_2(settings, tmp_path: Path, capsys) -> None:
    assert run_cli(settings, "import-activities", str(tmp_path / "nope.json")) == 2
    assert "no such file" in capsys.readouterr().err


def test_import_skip_invalid_imports_good_and_lists_positions(
    settings, tmp_path: Path, capsys
) -> None:
    records = _bad([["oops"], rec(3, "bad", {})])
    path = write_export(tmp_path / "mixed.json", records, META)
    assert run_cli(settings, "import-activities", "--skip-invalid", str(path)) == 0
    assert "positions: 2, 3" in capsys.readouterr().err
    assert _counts(settings) == (3, 2)


def test_import_same_and_overlapping_file_adds_nothing_twice(settings, tmp_path: Path) -> None:
    first = write_export(tmp_path / "a.json", GOOD, META)
    assert run_cli(settings, "import-activities", str(first)) == 0
    assert run_cli(settings, "import-activities", str(first)) == 0
    assert _counts(settings) == (3, 2)
    extra = rec(1, "01-03-2024 12:00:00 +0000", {"status": "Resolved"})
    later = {**META, "end_at": "03-03-2024 00:00:00 +0000"}
    overlap = write_export(tmp_path / "b.json", [GOOD[1], extra], later)
    assert run_cli(settings, "import-activities", str(overlap)) == 0
    assert _counts(settings) == (4, 2)
    out = tmp_path / "r.json"
    assert run_cli(settings, "report", "--format", "json", "--output", str(out)) == 0
    one, two = json.loads(out.read_text())
    assert (one["status"], one["time_open"], one["first_response"]) == ("Resolved", 7200, 300)
    # ticket 2 came only from the first file: its unfinished interval ends at that file's end_at
    assert two["time_open"] == 13 * 3600


def test_import_tolerates_whitespace_strings_and_keeps_unknown_keys(
    settings, tmp_path: Path
) -> None:
    records = [
        {
            "performer_type": " User ",
            "performer_id": " 5 ",
            "ticket_id": "10",
            "performed_at": "  1-3-2024   10:00:00   +0000 ",
            "activity": {"status": " open ", "priority": "Urgent", "requester": "5", "x": [1]},
            "extra_top": "kept",
        },
        rec(
            10, "01-03-2024 10:00:30 +0100", {"note": {"id": "2", "type": "1", "private": "false"}}
        ),
    ]
    path = write_export(tmp_path / "loose.json", records, META)
    assert run_cli(settings, "import-activities", str(path)) == 0
    rows = databases.fetch(settings.database_url, select(Activity.activity).order_by(Activity.id))
    docs = [doc for (doc,) in rows]
    assert docs[0]["status"] == "Open" and docs[0]["priority"] == 4 and docs[0]["x"] == [1]
    assert docs[0]["_record"] == {"extra_top": "kept"}
    assert docs[1]["note"] == {"id": 2, "type": 1, "private": False}
    out = tmp_path / "r.json"
    args = ("report", "--format", "json", "--as-of", "2024-03-01T10:00:00Z", "--output", str(out))
    assert run_cli(settings, *args) == 0
    (row,) = json.loads(out.read_text())
    # +0100: the note is 59 min 30 s *before* the creation in UTC, so it sorts first
    assert row["created_at"] == "2024-03-01T09:00:30Z"
    assert row["first_response"] is None and row["priority"] == 4


@pytest.mark.parametrize(
    ("field", "record"),
    [
        ("activity.status", {"activity": {"status": {"a": 1}}}),
        ("activity.status", {"activity": {"status": ["Open"]}}),
        ("performer_type", {"performer_type": ["user"]}),
        ("performer_type", {"performer_type": 1}),
        ("ticket_id", {"ticket_id": True}),
        ("performer_id", {"performer_id": False}),
        ("activity.priority", {"activity": {"priority": True}}),
        ("activity.priority", {"activity": {"priority": 5}}),
        ("activity.requester", {"activity": {"requester": True}}),
        ("activity.note.id", {"activity": {"note": {"id": True}}}),
    ],
)
def test_parse_record_refuses_odd_values_by_field(field: str, record: dict) -> None:
    good = {"ticket_id": 1, "performed_at": "01-03-2024 10:00:00 +0000", "activity": {}}
    with pytest.raises(RecordError) as caught:
        parse_record(good | record)
    assert caught.value.field == field


def test_parse_record_normalizes_and_keeps_unknown_keys() -> None:
    record = {
        "ticket_id": " 7 ",
        "performed_at": "01-03-2024 10:00:00 +0100",
        "performer_type": " System ",
        "performer_id": "9",
        "activity": {"status": " waiting  for customer ", "priority": "high", "agent_id": 3.0},
        "extra": 1,
    }
    assert parse_record(record) == (
        7,
        1709283600 * 1_000_000,
        "system",
        9,
        {"status": "Waiting for Customer", "priority": 3, "agent_id": 3, "_record": {"extra": 1}},
    )
