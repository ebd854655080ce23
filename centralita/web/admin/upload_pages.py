"""Admin: upload a campaign's customer file, follow the import, download the rejected rows."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from centralita.core.models import Campaign, Role, utcnow
from centralita.customers.importer import ImportMode
from centralita.web.admin import bp, uploads
from centralita.web.admin.texts import _
from centralita.web.login import LARGE_BODIES, login_required, user
from centralita.web.services import services

# The file plus the form's few fields and multipart framing; the file's own limit (and its
# message) is in uploads.py.
LARGE_BODIES["admin.upload"] = uploads.MAX_UPLOAD_BYTES + 1024 * 1024


def _storage() -> Any:
    return services().settings.storage_dir


def _campaign_name(slug: str) -> str:
    with services().sessions() as session:
        name = session.scalar(select(Campaign.name).where(Campaign.slug == slug))
    if name is None:
        abort(404)
    return name


@bp.route("/campaigns/<slug>/upload", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def upload(slug: str) -> Any:
    name = _campaign_name(slug)
    if request.method == "GET":
        return render_template("admin/upload.html", slug=slug, name=name, error=None)
    sent = request.files.get("file")
    mode_text = request.form.get("mode", ImportMode.UPSERT.value)
    error = None
    if sent is None or not sent.filename:
        error = _("Elige el archivo de clientes (CSV o XLSX).")
    elif mode_text not in {m.value for m in ImportMode}:
        error = _("Modo de importación desconocido: %(mode)s", mode=mode_text)
    if error is None:
        assert sent is not None and sent.filename
        try:
            status = uploads.save_upload(
                _storage(),
                campaign=slug,
                mode=ImportMode(mode_text),
                filename=sent.filename,
                stream=sent.stream,
                by=user().email,
            )
        except uploads.UploadError as exc:
            error = _(exc.text, **exc.values)
    if error is not None:
        page = render_template("admin/upload.html", slug=slug, name=name, error=error)
        return page, 422
    services().jobs.enqueue(uploads.run_upload_job, status.id)
    return redirect(url_for("admin.upload_status", upload_id=status.id))


def _status_or_404(upload_id: str) -> uploads.UploadStatus:
    try:
        return uploads.read_status(_storage(), upload_id)
    except (FileNotFoundError, ValueError):
        abort(404)


@bp.get("/uploads/<upload_id>")
@login_required(Role.ADMIN)
def upload_status(upload_id: str) -> str:
    status = _status_or_404(upload_id)
    return render_template(
        "admin/upload_status.html",
        status=status,
        name=_campaign_name(status.campaign),
        stale=status.stale(utcnow()),
    )


@bp.get("/uploads/<upload_id>/status")
@login_required(Role.ADMIN, passive=True)
def upload_status_json(upload_id: str) -> Any:
    status = _status_or_404(upload_id)
    found = status.to_json()
    found["stale"] = status.stale(utcnow())
    return jsonify(found)


@bp.post("/uploads/<upload_id>/retry")
@login_required(Role.ADMIN)
def upload_retry(upload_id: str) -> Any:
    """Start an import again whose job never ran or died (its status stopped moving)."""
    status = _status_or_404(upload_id)
    if status.stale(utcnow()):
        services().jobs.enqueue(uploads.run_upload_job, status.id)
    return redirect(url_for("admin.upload_status", upload_id=upload_id))


@bp.get("/uploads/<upload_id>/rejected.csv")
@login_required(Role.ADMIN)
def upload_rejected(upload_id: str) -> Any:
    status = _status_or_404(upload_id)
    path = uploads.rejected_file(_storage(), upload_id)
    if not status.finished or not path.is_file():
        abort(404)
    return send_file(
        path.resolve(),
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"rechazados-{status.campaign}-{upload_id[:8]}.csv",
    )
