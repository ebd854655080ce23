"""An upload's import through a real Redis and an RQ worker, as in production: the web
process saves the file and enqueues; a worker (another process in real life) imports."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from centralita.core import runtime as runtimes
from centralita.core.jobs import RQJobs
from centralita.core.models import Campaign, Customer
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.worker import run_worker
from centralita.customers.importer import ImportMode
from centralita.web.admin import uploads


def test_the_import_waits_in_redis_until_a_worker_runs_it(
    db_url: str, engine: object, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        secret_key="t", database_url=db_url, redis_url=redis_url, storage_dir=tmp_path
    )
    rt = Runtime.build(settings)
    try:
        assert isinstance(rt.jobs, RQJobs)
        with rt.sessions.begin() as session:
            session.add(Campaign(slug="cartera", name="Cartera"))
        saved = uploads.save_upload(
            tmp_path,
            campaign="cartera",
            mode=ImportMode.UPSERT,
            filename="clientes.csv",
            stream=io.BytesIO(b"documento,nombre\n1012345678,Ana\n,Sin documento\n"),
            by="root@x.co",
        )
        rt.jobs.enqueue(uploads.run_upload_job, saved.id)
        assert uploads.read_status(tmp_path, saved.id).state == "queued"

        run_worker(rt, burst=True)

        done = uploads.read_status(tmp_path, saved.id)
        assert done.state == "done", done.error
        assert done.counts["inserted"] == 1 and done.counts["rejected"] == 1
        assert [row["line"] for row in done.rejected_preview] == [3]
        with rt.sessions() as session:
            assert session.scalar(select(func.count(Customer.id))) == 1
    finally:
        runtimes.install(None)
        rt.engine.dispose()
