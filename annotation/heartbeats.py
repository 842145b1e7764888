"""A running job's heartbeat, written from its own thread while the job's body runs (fit runs, pairing jobs)."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, connections
from django.db.models import QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)


@contextmanager
def heartbeat_while_running(row: QuerySet, *, every: float, what: str) -> Iterator[None]:
    """Keep `heartbeat_at` of `row` (the job's row, filtered to its running state) fresh every `every`
    seconds until the body ends, so a stale check can tell a live job from a dead worker's.

    A heartbeat from another connection is only visible once the job's claim is committed: a worker is
    never inside a transaction; a caller inside one (a test) gets no thread.
    """
    stop = threading.Event()
    beat = None if connection.in_atomic_block else threading.Thread(target=_beat, args=(row, stop, every, what))
    if beat is not None:
        beat.start()
    try:
        yield
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=every)


def _beat(row: QuerySet, stop: threading.Event, every: float, what: str) -> None:
    try:
        while not stop.wait(every):
            try:
                row.update(heartbeat_at=timezone.now())
            except DatabaseError:
                log.warning("heartbeat of %s could not be written; retrying", what, exc_info=True)
    finally:
        connections.close_all()
