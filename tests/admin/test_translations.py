"""Every Spanish text of the supervisor, admin and simulator pages has its English: in the
templates (`_("...")`) and in the code (`_(...)`, and the errors whose text the page
translates)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import centralita.web.admin
import centralita.web.simulator
import centralita.web.supervise  # their translations are added on import
from centralita.web.i18n import CATALOG

WEB = Path(centralita.web.admin.__file__).resolve().parents[1]
AREAS = ("admin", "supervise", "simulator")
_TEMPLATE_TEXT = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')""")
# Errors carrying a Spanish text for the page to translate: (class name, argument index).
_TRANSLATED_ARGS = {"FieldError": 1, "UploadError": 0, "SimulatorError": 1}


def _template_texts() -> set[str]:
    found = set()
    for area in AREAS:
        for path in (WEB / "templates" / area).glob("*.html"):
            for double, single in _TEMPLATE_TEXT.findall(path.read_text(encoding="utf-8")):
                found.add(double or single)
    return found


def _code_texts() -> set[str]:
    found = set()
    for area in AREAS:
        for path in (WEB / area).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                    continue
                index = 0 if node.func.id == "_" else _TRANSLATED_ARGS.get(node.func.id)
                if index is None or len(node.args) <= index:
                    continue
                argument = node.args[index]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
    return found


@pytest.mark.parametrize("kind", ["templates", "code"])
def test_every_text_has_its_english(kind: str) -> None:
    texts = _template_texts() if kind == "templates" else _code_texts()
    assert len(texts) > 20  # the scan found them
    missing = sorted(t for t in texts if t not in CATALOG["en"])
    assert missing == []


def test_every_label_table_has_its_english() -> None:
    from centralita.web.admin import people_pages, texts
    from centralita.web.simulator import _FIELD_LABELS, LABELS
    from centralita.web.supervise import texts as supervise_texts

    tables = [
        texts.ROLE_NAMES,
        texts.POLICY_NAMES,
        texts.UPLOAD_STATES,
        texts.LEVELS,
        {k: v for k, (_, v) in texts.CAMPAIGN_ERRORS.items()},
        people_pages._CREATE_ERRORS,
        LABELS,
        _FIELD_LABELS,
        supervise_texts.CHAT_STATUS,
        supervise_texts.PRESENCE,
        supervise_texts.ASSIGNMENT_KIND,
        supervise_texts.ALERT_KIND,
        supervise_texts.AUTHOR,
    ]
    missing = sorted(
        text for table in tables for text in table.values() if text not in CATALOG["en"]
    )
    assert missing == []
