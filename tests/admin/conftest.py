"""Helper A's world of the pages (campaigns, people, chats; sign-in through the form), with
STORAGE_DIR and FLOWS_DIR in the test's own folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from centralita.core.settings import Settings
from tests.inbox.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    PASSWORD,
    World,
    _quick_password_hashes,
    csrf_token,
    sign_in,
    web_app,
    web_client,
    web_rt,
    world,
)
from tests.supervise.conftest import page_token

SHIPPED_FLOWS = Path(__file__).resolve().parents[2] / "flows"

__all__ = ["PASSWORD", "World", "page_token", "sign_in"]


@pytest.fixture
def web_settings(db_url: str, engine: object, tmp_path: Path) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    for path in SHIPPED_FLOWS.glob("*.yaml"):
        shutil.copy(path, flows / path.name)
    return Settings(
        secret_key="t",
        database_url=db_url,
        flows_dir=flows,
        storage_dir=tmp_path / "storage",
    )
