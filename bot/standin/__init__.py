"""A local stand-in for the Telegram Bot API, for end-to-end tests, demos and benchmarks.

See README.md in this folder. Main entry point: :class:`BotApiStandin`.
"""

from .errors import ApiError
from .faults import FaultInjector
from .server import BotApiStandin
from .state import Chat, FileRecord
from .users import StandinUser

__all__ = ["ApiError", "BotApiStandin", "Chat", "FaultInjector", "FileRecord", "StandinUser"]
