"""Every Spanish text of the sign-in, inbox and sessions pages has its English translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import centralita.web.inbox  # noqa: F401  (registers the inbox's texts)
from centralita.web.i18n import CATALOG
from centralita.web.login import NAVIGATION, ROLE_LABELS

WEB = Path(__file__).resolve().parents[2] / "centralita" / "web"
FILES = [
    *sorted((WEB / "templates").glob("*.html")),
    *sorted((WEB / "templates" / "auth").glob("*.html")),
    *sorted((WEB / "templates" / "inbox").glob("*.html")),
    WEB / "login.py",
    WEB / "auth" / "views.py",
    WEB / "inbox" / "__init__.py",
]
_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def _texts(path: Path) -> set[str]:
    found = set()
    for match in _CALL.finditer(path.read_text(encoding="utf-8")):
        found.add(match.group(1) if match.group(1) is not None else match.group(2))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(WEB)))
def test_every_text_has_its_english(path: Path) -> None:
    missing = sorted(t for t in _texts(path) if t not in CATALOG["en"])
    assert missing == [], f"{path.name}: no English for {missing}"


def test_the_menu_and_roles_have_their_english() -> None:
    labels = [label for _, label, _ in NAVIGATION] + list(ROLE_LABELS.values())
    assert [t for t in labels if t not in CATALOG["en"]] == []


def test_the_scan_finds_texts() -> None:
    assert "Iniciar sesión" in _texts(WEB / "templates" / "auth" / "login.html")
