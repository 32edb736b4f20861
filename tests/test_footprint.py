"""The bot process stays light: what only a rare command needs is imported when it is used."""

from __future__ import annotations

import subprocess
import sys

from tests.support.process import ROOT

HEAVY = ("matplotlib", "numpy", "PIL", "onnxruntime", "tokenizers")


def test_running_the_bot_does_not_import_the_chart_or_embedding_libraries() -> None:
    # Everything `python bot.py run` imports before it polls (bench/footprint.py measures it).
    code = (
        "import sys, bot.cli, bot.runner, bot.app, handlers\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
