from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    names = {}
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z_]+)=", line)
        if match:
            names[match.group(1)] = lines[index - 1]
    assert set(names) == {field.upper() for field in Settings.model_fields}
    assert all(comment.startswith("# ") for comment in names.values())
