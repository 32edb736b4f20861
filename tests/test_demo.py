from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_plays_the_whole_story_without_a_token() -> None:
    result = subprocess.run(
        [sys.executable, "bot.py", "demo"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in (
        "You are now an agent",  # invite
        "Your email is verified",  # registration
        "[Track your order]",  # a knowledge-base article offered by /new
        "Glad it helped. No ticket was opened",  # ... that solved it
        "Ticket #1 is open",  # /new
        "is assigned to you",  # /assign
        "#1 · Sam Support\n           Could you try once more now?",  # the agent's answer
        "#1 · Alice Liddell\n           It works now, thank you!",  # relayed to the agent
        "[1]  [2]  [3]  [4]  [5]",  # rating buttons
        "Rating: 5/5",
        "Report for the last 1 day",
        "Suggestions offered: 2; tickets avoided: 1 (deflection rate 50.0%)",
        "track-order: shown 1, solved 1",  # /kb
        # topic mode: two tickets of one customer at one agent, each in its own topic
        "bot » Sam: (opens the topic “#1 · Printer”)",
        "bot » Sam: (opens the topic “#2 · Invoice”)",
        "bot » Sam: [#1 · Printer] Even the test page is blank.",
        "bot » Bob: [#2 · Invoice] It went out this morning, by mail.",
        "bot » Sam: [#2 · Invoice] #2 is resolved.",
        "bot » Bob: (renames the topic “✅ #2 · Invoice”)",
    ):
        assert step in out, step
    assert "Traceback" not in result.stderr
