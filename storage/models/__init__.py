"""All models, so that `Base.metadata` knows every table (Alembic reads it from here)."""

from storage.models import core, email, kb, reports, search, tools, topics
from storage.models.core import *  # noqa: F403
from storage.models.email import *  # noqa: F403
from storage.models.kb import *  # noqa: F403
from storage.models.reports import *  # noqa: F403
from storage.models.search import *  # noqa: F403
from storage.models.tools import *  # noqa: F403
from storage.models.topics import *  # noqa: F403

__all__ = [
    *core.__all__,
    *getattr(email, "__all__", ()),
    *kb.__all__,
    *getattr(reports, "__all__", ()),
    *tools.__all__,
    *search.__all__,
    *topics.__all__,
]
