"""A campaign's customer file uploaded from the admin pages, imported in the background.

Each upload is a folder STORAGE_DIR/uploads/ID/ holding the file as uploaded, `status.json`
(state, progress, counts, the first rejected rows) and `rejected.csv` (every rejected row
with its line and reason, for download). The folder is written before the job is enqueued,
so a job that never ran is visible (queued, no progress) and can be started again from its
page; `status.json` is replaced atomically, so a reader never sees half of it. Workers and
web processes must share STORAGE_DIR (as for transcripts).

The import itself is the real one (`customers.importer.import_customers`), the same as
`centralita customers import`: the job only adds the progress and the rejected-rows file.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from centralita.core import runtime as runtimes
from centralita.core.models import utcnow
from centralita.customers.importer import (
    ImportCounts,
    ImportHooks,
    ImportMode,
    ImportRefused,
    import_customers,
)
from centralita.customers.parsing import CustomerParser, Rejected
from centralita.customers.phones import E164Phones, phone_region_from_env
from centralita.customers.sources import Source, UnusableFile, open_source
from centralita.customers.values import cell_text

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a million rows of a wide CSV fit with room to spare
PREVIEW_ROWS = 200  # rejected rows kept in status.json for the page; all go to the CSV
PROGRESS_EVERY = 0.25  # seconds between status writes while importing
STALE_AFTER = timedelta(minutes=2)  # queued or running with no news this long: offer a retry
_ID = re.compile(r"[0-9a-f]{32}\Z")


class UploadError(ValueError):
    """The upload cannot be used; the message (Spanish, with `values`) says why."""

    def __init__(self, text: str, **values: object) -> None:
        super().__init__(text % values if values else text)
        self.text = text
        self.values = values


@dataclass
class UploadStatus:
    id: str
    campaign: str
    mode: str
    filename: str  # as the person named it (shown, never used as a path)
    stored_as: str  # the file's name inside the upload folder
    by: str  # the admin's email
    created_at: str
    state: str = "queued"  # queued | running | done | failed
    position: int = 0  # bytes (CSV) or rows (XLSX) read so far
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    rejected_preview: list[dict[str, Any]] = field(default_factory=list)
    updated_at: str = ""
    columns: str = ""

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        if not self.total:
            return 0
        return min(99, int(100 * self.position / self.total))

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def stale(self, now: datetime) -> bool:
        if self.finished or not self.updated_at:
            return False
        return now - datetime.fromisoformat(self.updated_at) > STALE_AFTER

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["percent"] = self.percent
        found["finished"] = self.finished
        return found


def uploads_dir(storage_dir: Path) -> Path:
    return storage_dir / "uploads"


def upload_dir(storage_dir: Path, upload_id: str) -> Path:
    if not _ID.match(upload_id):
        raise FileNotFoundError(upload_id)  # never a path from outside
    return uploads_dir(storage_dir) / upload_id


def check_filename(filename: str) -> str:
    """The suffix to store the file with; UploadError for files that cannot be customers."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls":
        raise UploadError(
            "«%(name)s» es un archivo de Excel 97-2003 (.xls): guárdalo como .xlsx o como CSV "
            "y súbelo de nuevo",
            name=filename,
        )
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(
            "«%(name)s» no es un archivo CSV ni XLSX: sube la base de clientes en uno de esos "
            "formatos",
            name=filename or "?",
        )
    return ".xlsx" if suffix == ".xlsx" else ".csv"


def save_upload(
    storage_dir: Path,
    *,
    campaign: str,
    mode: ImportMode,
    filename: str,
    stream: IO[bytes],
    by: str,
    now: datetime | None = None,
) -> UploadStatus:
    """Store the uploaded file and its status (queued). The header is read at once, so a file
    that cannot be imported is refused here, with the reason, and nothing is kept."""
    suffix = check_filename(filename)
    upload_id = uuid.uuid4().hex
    folder = upload_dir(storage_dir, upload_id)
    folder.mkdir(parents=True)
    stored = folder / f"clientes{suffix}"
    try:
        with stored.open("wb") as out:
            copied = _copy(stream, out)
        if copied == 0:
            raise UploadError("el archivo «%(name)s» está vacío", name=filename)
        with open_source(stored) as source:
            parser = CustomerParser(source, E164Phones(phone_region_from_env()))
            columns = describe_columns(parser)
    except UnusableFile as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError("%(name)s: %(problem)s", name=filename, problem=str(exc)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    moment = (now or utcnow()).isoformat()
    status = UploadStatus(
        id=upload_id,
        campaign=campaign,
        mode=mode.value,
        filename=Path(filename).name[:200],
        stored_as=stored.name,
        by=by,
        created_at=moment,
        updated_at=moment,
        columns=columns,
    )
    write_status(folder, status)
    return status


def _copy(stream: IO[bytes], out: IO[bytes]) -> int:
    copied = 0
    while chunk := stream.read(1024 * 1024):
        copied += len(chunk)
        if copied > MAX_UPLOAD_BYTES:
            raise UploadError(
                "el archivo pasa de %(mb)s MB: divídelo o impórtalo con «centralita customers "
                "import»",
                mb=MAX_UPLOAD_BYTES // (1024 * 1024),
            )
        out.write(chunk)
    return copied


def describe_columns(parser: CustomerParser) -> str:
    """`document ← Cédula, name ← Nombre, saldo`: how the header was understood."""
    columns = parser.columns
    fields = {
        "document": columns.document,
        "name": columns.name,
        "phone": columns.phone,
        "document_type": columns.document_type,
    }
    known = [f"{key} ← {columns.headers[at]}" for key, at in fields.items() if at is not None]
    return ", ".join(known + [key for _, key in columns.extras])


def read_status(storage_dir: Path, upload_id: str) -> UploadStatus:
    """The upload's status; FileNotFoundError for an unknown id."""
    path = upload_dir(storage_dir, upload_id) / "status.json"
    return UploadStatus(**json.loads(path.read_text(encoding="utf-8")))


def write_status(folder: Path, status: UploadStatus) -> None:
    temporary = folder / "status.json.tmp"
    temporary.write_text(json.dumps(asdict(status), ensure_ascii=False), encoding="utf-8")
    temporary.replace(folder / "status.json")


def rejected_file(storage_dir: Path, upload_id: str) -> Path:
    return upload_dir(storage_dir, upload_id) / "rejected.csv"


def recent_uploads(storage_dir: Path, campaign: str, limit: int = 10) -> list[UploadStatus]:
    base = uploads_dir(storage_dir)
    if not base.is_dir():
        return []
    found = []
    for status_path in base.glob("*/status.json"):
        try:
            status = UploadStatus(**json.loads(status_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # being written or damaged: not worth failing the page for
        if status.campaign == campaign:
            found.append(status)
    found.sort(key=lambda s: s.created_at, reverse=True)
    return found[:limit]


def run_upload_job(upload_id: str) -> None:
    """The job: import the upload into its campaign (takes the id only, as jobs do)."""
    rt = runtimes.current()
    run_upload(rt.engine, rt.settings.storage_dir, upload_id)


def run_upload(engine: Engine, storage_dir: Path, upload_id: str) -> UploadStatus:
    folder = upload_dir(storage_dir, upload_id)
    status = read_status(storage_dir, upload_id)
    if status.finished:
        return status  # the job ran twice (a retry after all): nothing to do
    status.state = "running"
    status.error = None
    status.rejected_preview = []
    status.updated_at = utcnow().isoformat()
    write_status(folder, status)
    try:
        with open_source(folder / status.stored_as) as source:
            status.total = source.total
            counts = _import(engine, folder, source, status)
        status.counts = {k: int(v) for k, v in asdict(counts).items()}
        status.state = "done"
    except (UnusableFile, ImportRefused) as exc:
        status.state, status.error = "failed", str(exc)
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or ["database error"])[0]
        status.state, status.error = "failed", f"database: {first}"
        log.warning("upload %s failed: %s", upload_id, first)
    except Exception as exc:  # a job boundary: the page must say it failed, not hang
        log.exception("upload %s failed", upload_id)
        status.state, status.error = "failed", f"{type(exc).__name__}: {exc}"
    status.updated_at = utcnow().isoformat()
    write_status(folder, status)
    return status


def _import(engine: Engine, folder: Path, source: Source, status: UploadStatus) -> ImportCounts:
    parser = CustomerParser(source, E164Phones(phone_region_from_env()))
    with (folder / "rejected.csv").open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=source.delimiter or ",")
        writer.writerow(["line", "reason", *parser.columns.headers])
        last_write = time.monotonic()

        def rejected(row: Rejected) -> None:
            cells = [cell_text(c) for c in row.cells]
            writer.writerow([row.line, row.reason, *cells])
            if len(status.rejected_preview) < PREVIEW_ROWS:
                status.rejected_preview.append(
                    {"line": row.line, "reason": row.reason, "cells": cells[:8]}
                )

        def progress(position: int) -> None:
            nonlocal last_write
            status.position = position
            if time.monotonic() - last_write >= PROGRESS_EVERY:
                last_write = time.monotonic()
                status.updated_at = utcnow().isoformat()
                write_status(folder, status)

        hooks = ImportHooks(rejected=rejected, progress=progress)
        counts = import_customers(
            engine, status.campaign, parser, mode=ImportMode(status.mode), hooks=hooks
        )
    status.position = source.total or status.position
    return counts
