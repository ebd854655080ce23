"""The inbound message's INSERT is written as text (receive_sql.py): it must still set every
column the model gives a default, or a new column would silently stay NULL on inbound rows."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from centralita.channels.receive_sql import _INBOUND_COLUMNS
from centralita.core.models import Message


def test_the_inbound_insert_sets_every_column_the_model_defaults() -> None:
    table = cast(Table, Message.__table__)
    defaulted = {c.name for c in table.columns if c.default is not None or c.server_default}
    assert defaulted <= {*_INBOUND_COLUMNS, "attempts"}, (
        "add the new column to _INBOUND_COLUMNS in centralita/channels/receive_sql.py"
    )
