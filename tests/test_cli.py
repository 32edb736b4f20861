from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ADMIN_"))}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        env=clean,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_without_token_explains_and_exits_2(tmp_path) -> None:
    result = run_bot(
        "run", env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert "@BotFather" in result.stderr and "Traceback" not in result.stderr


def test_malformed_value_names_the_variable_and_exits_2(tmp_path) -> None:
    for name, value in [
        ("ADMIN_IDS", "12,abc"),
        ("SMTP_PORT", "smtp"),
        ("TIMEZONE", "Mars/Olympus"),
        ("DIGEST_SCHEDULE", "every monday"),
        ("ASSIGNMENT", "random"),
        ("REQUIRE_EMAIL_VERIFICATION", "maybe"),
    ]:
        result = run_bot("migrate", env={name: value}, cwd=tmp_path)
        assert result.returncode == 2, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and "Traceback" not in result.stderr


def test_env_file_is_read_and_environment_wins(tmp_path) -> None:
    (tmp_path / ".env").write_text("SMTP_PORT=oops\nTIMEZONE=Europe/Paris\n")
    assert run_bot("migrate", cwd=tmp_path).returncode == 2
    fixed = run_bot(
        "migrate",
        env={"SMTP_PORT": "25", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db"},
        cwd=tmp_path,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "h.db").exists()


def test_empty_value_counts_as_unset(tmp_path) -> None:
    result = run_bot(
        "migrate",
        env={"SMTP_PORT": "", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
