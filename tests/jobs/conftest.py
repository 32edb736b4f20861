import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.jobs.factories import (  # noqa: E402, F401
    db_url,
    resources,
    session_factory,
    settings,
)
