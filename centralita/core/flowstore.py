"""Flow versions in the database, so chats keep their version across restarts and edits.

The live flows come from FLOWS_DIR (hot-reloaded by FlowLibrary). Every version a chat starts
on is stored in `flow_versions` first; a chat whose version is no longer on disk (the file was
edited, or this is another process) gets it back from there, compiled once and cached.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from centralita.bot.loader import FlowLibrary, load_text
from centralita.bot.model import Flow
from centralita.core.db import READ_ONLY
from centralita.core.models import FlowVersion

log = logging.getLogger(__name__)


def record_version(session: Session, flow: Flow) -> None:
    """Store this version if it is not stored yet (idempotent, safe under concurrency)."""
    exists = session.scalar(
        select(FlowVersion.id).where(
            FlowVersion.flow_id == flow.id, FlowVersion.content_hash == flow.version
        )
    )
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                FlowVersion(
                    flow_id=flow.id, content_hash=flow.version, source=flow.source, path=flow.path
                )
            )
    except IntegrityError:
        pass  # another process stored the same version first: that is the same row


class StoredFlows:
    """A FlowSource: current flows from the library, old versions from the database."""

    def __init__(self, library: FlowLibrary, sessions: sessionmaker[Session]) -> None:
        self.library = library
        self.sessions = sessions

    def current(self, flow_id: str) -> Flow | None:
        self.library.maybe_refresh()  # FLOWS_DIR is hot-reloaded
        return self.library.current(flow_id)

    def version(self, flow_id: str, version: str) -> Flow | None:
        flow = self.library.version(flow_id, version)
        if flow is not None:
            return flow
        with self.sessions() as session:
            # Read-only: called while the message's transaction holds SQLite's write lock, and
            # a read (WAL) need not wait for it, where a BEGIN IMMEDIATE would.
            session.connection(execution_options={READ_ONLY: True})
            row = session.scalar(
                select(FlowVersion).where(
                    FlowVersion.flow_id == flow_id, FlowVersion.content_hash == version
                )
            )
        if row is None:
            return None
        loaded = load_text(row.source, row.path)
        if loaded.flow is None:
            # It was valid when stored; a stricter validator may now refuse it. Say so loudly.
            log.error("stored flow %s@%s no longer validates", flow_id, version[:12])
            return None
        self.library.remember(loaded.flow)
        return loaded.flow
