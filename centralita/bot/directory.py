"""An in-memory customer directory: flow tests' fixtures and the terminal simulator's customers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from centralita.bot.engine import CustomerRecord
from centralita.bot.inputs import normalize_document

# Customer-file column aliases (contract: "Customer files").
DOCUMENT_COLUMNS = ("document", "documento", "cedula", "doc")
NAME_COLUMNS = ("name", "nombre")
PHONE_COLUMNS = ("phone", "telefono", "celular")


class MemoryDirectory:
    def __init__(
        self, campaigns: Mapping[str, str] | None = None, inactive: Iterable[str] = ()
    ) -> None:
        self.names: dict[str, str] = dict(campaigns or {})
        self.inactive = set(inactive)
        self.rows: dict[str, list[CustomerRecord]] = {}

    def add(self, campaign: str, row: Mapping[str, Any]) -> CustomerRecord:
        """Add a customer row; columns named as in customer files (document, nombre, ...)."""
        lowered = {str(k).strip().lower(): v for k, v in row.items()}
        document = _first(lowered, DOCUMENT_COLUMNS)
        if document is None or not str(document).strip():
            raise ValueError("customer row has no document")
        name = _first(lowered, NAME_COLUMNS)
        phone = _first(lowered, PHONE_COLUMNS)
        known = {"campaign", *DOCUMENT_COLUMNS, *NAME_COLUMNS, *PHONE_COLUMNS}
        record = CustomerRecord(
            campaign=campaign,
            campaign_name=self.names.setdefault(campaign, campaign),
            document=normalize_document(str(document)),
            name=None if name is None else str(name),
            phone=None if phone is None else str(phone),
            fields={k: v for k, v in lowered.items() if k not in known},
        )
        self.rows.setdefault(record.document, []).append(record)
        return record

    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        return [
            r
            for r in self.rows.get(normalize_document(document), [])
            if r.campaign not in self.inactive and (campaigns is None or r.campaign in campaigns)
        ]

    @classmethod
    def from_fixtures(cls, data: Mapping[str, Any]) -> MemoryDirectory:
        """The `campaigns:` and `customers:` of a flow test file."""
        campaigns = [c for c in data.get("campaigns") or [] if isinstance(c, Mapping)]
        directory = cls(
            {str(c["slug"]): str(c.get("name", c["slug"])) for c in campaigns},
            [str(c["slug"]) for c in campaigns if c.get("active") is False],
        )
        for row in data.get("customers") or []:
            directory.add(str(row["campaign"]), {k: v for k, v in row.items() if k != "campaign"})
        return directory

    @classmethod
    def from_csv(cls, text: str, default_campaign: str = "demo") -> MemoryDirectory:
        """A customer file (delimiter sniffed); a `campaign` column spreads rows over campaigns."""
        sample = text[:4096]
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                sample, delimiters=",;\t"
            )
        except csv.Error:
            dialect = csv.excel
        directory = cls()
        for row in csv.DictReader(io.StringIO(text), dialect=dialect):
            clean = {k: v for k, v in row.items() if k is not None}
            campaign = (clean.pop("campaign", None) or default_campaign).strip()
            directory.add(campaign, clean)
        return directory


def _first(row: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if row.get(name) not in (None, ""):
            return row[name]
    return None
