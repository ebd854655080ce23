"""The closed chat's PDF transcript: read the chat, render with no transaction open, write the
file atomically under STORAGE_DIR, then record its path on the chat.

`write_transcript` is what the transcript job calls (the lifecycle's retries and sweep live
with the job); it is idempotent, so a job run twice or re-enqueued by the sweep is harmless.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import update

from centralita.core.models import Chat, ChatStatus
from centralita.lifecycle.transcript_data import TranscriptData, transcript_data
from centralita.lifecycle.transcript_render import render_transcript_pdf

if TYPE_CHECKING:  # the runtime imports job modules; a runtime import here would be a cycle
    from centralita.core.runtime import Runtime

__all__ = [
    "TranscriptData",
    "render_transcript_pdf",
    "transcript_data",
    "transcript_file",
    "transcript_relative_path",
    "write_atomically",
    "write_transcript",
]


def transcript_relative_path(chat_id: int, closed_at: datetime) -> PurePosixPath:
    """Where a transcript lives under STORAGE_DIR: by month of closing, so folders stay small."""
    return PurePosixPath("transcripts", f"{closed_at:%Y}", f"{closed_at:%m}", f"chat-{chat_id}.pdf")


def transcript_file(storage_dir: Path, relative: str | None) -> Path | None:
    """The absolute path of a made transcript, or None if none is recorded or the file is
    missing. Refuses a recorded path that leaves STORAGE_DIR (it is ours, but a row edited
    by hand must not make the API serve arbitrary files)."""
    if not relative:
        return None
    root = storage_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` so that readers see the old file or the whole new one, never
    a part: a temporary file in the same folder, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # The rename itself survives a crash only once the folder's entry is on disk.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_transcript(
    rt: Runtime, chat_id: int, now: datetime, *, language: str = "es"
) -> str | None:
    """Make the closed chat's transcript. Returns its path relative to STORAGE_DIR, or None
    when there is nothing to do (no such chat, not closed, or already made and on disk).
    Raises when rendering or writing fails; the caller does the retry bookkeeping."""
    storage = rt.settings.storage_dir
    with rt.sessions() as session:
        chat = session.get(Chat, chat_id)
        if chat is None or chat.status != ChatStatus.CLOSED:
            return None
        if transcript_file(storage, chat.transcript_path) is not None:
            return None
        data = transcript_data(session, chat_id)
    # The session is closed: no transaction or connection is held while rendering.
    relative = transcript_relative_path(chat_id, data.closed_at or now)
    pdf = render_transcript_pdf(data, language=language, generated_at=now)
    write_atomically(storage / relative, pdf)
    with rt.sessions.begin() as session:
        session.execute(
            update(Chat)
            .where(Chat.id == chat_id)
            .values(transcript_path=str(relative), transcript_due_at=None, transcript_error=None)
        )
    return str(relative)
