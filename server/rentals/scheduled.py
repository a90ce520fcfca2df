"""The card-event sync on a timer, run by the entry points beside the ingester."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from server.database.singleton import only_one
from server.database.types import utcnow
from server.rentals.cards import sync_cards

log = logging.getLogger(__name__)


def card_sync_loop(session_factory: sessionmaker[Session], stop: threading.Event, *, every_s: float,
                   no_entry_days: int, lock_engine: Engine | None = None) -> None:
    """Sync card events into tenant detections every `every_s` until `stop`; errors are logged, not
    raised. The lock that keeps the sync single is taken on `lock_engine` (the direct connection
    behind PgBouncer, server.database.core.get_direct_engine), else on the sessions' engine."""
    engine = lock_engine or session_factory.kw["bind"]
    while not stop.wait(every_s):
        try:
            with only_one(engine, "card sync") as held:  # one sync at a time over every ingester
                if not held:
                    continue
                with session_factory() as db_session:
                    report = sync_cards(db_session=db_session, no_entry_days=no_entry_days, now=utcnow())  # an entry point: reads the clock
                    db_session.commit()
            if report.registrations or report.deregistrations or report.no_entry:
                log.info("card sync: %s", report.model_dump())
        except SQLAlchemyError:
            log.exception("card sync failed; retrying in %.0f s", every_s)


def start_card_sync(session_factory: sessionmaker[Session], stop: threading.Event, *, every_s: float = 60.0,
                    no_entry_days: int = 30, lock_engine: Engine | None = None) -> threading.Thread:
    thread = threading.Thread(target=card_sync_loop, args=(session_factory, stop),
                              kwargs={"every_s": every_s, "no_entry_days": no_entry_days, "lock_engine": lock_engine},
                              name="gridops-card-sync", daemon=True)
    thread.start()
    return thread
