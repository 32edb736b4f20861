"""Database errors never carry the values bound to the statement (texts, addresses)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine, create_session_factory
from storage.models import User

SECRET_EMAIL = "very.private@example.org"
SECRET_TEXT = "my bank password is hunter2"


async def test_integrity_error_hides_bound_values(database_url, caplog) -> None:
    # The engine's own statement log at INFO is where parameters would show too.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    caplog.set_level(logging.INFO)
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            session.add(User(telegram_id=4242, name="First"))
        with pytest.raises(IntegrityError) as caught:
            async with factory() as session, session.begin():
                session.add(User(telegram_id=4242, name=SECRET_TEXT, email=SECRET_EMAIL))
        logging.getLogger("helpdesk.test").exception("update failed")
    finally:
        await engine.dispose()
    assert "hidden" in str(caught.value)  # the statement is shown, its parameters are not
    for secret in (SECRET_EMAIL, SECRET_TEXT):
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)
        assert secret not in caplog.text
