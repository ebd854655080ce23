"""What the admin forms share: an error that names its field, in Spanish with placeholders
(the page translates it), and reading numbers and check boxes from a posted form."""

from __future__ import annotations

from collections.abc import Mapping

from centralita.web.i18n import _


class FieldError(ValueError):
    """A form value that cannot be used: `field` names the input, `text` says why (Spanish,
    `%(name)s` placeholders filled from `values`)."""

    def __init__(self, field: str, text: str, **values: object) -> None:
        super().__init__(text % values if values else text)
        self.field = field
        self.text = text
        self.values = values

    def translated(self) -> str:
        return _(self.text, **self.values)


def whole_number(form: Mapping[str, str], field: str, default: int) -> int:
    raw = (form.get(field) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FieldError(field, "«%(value)s» no es un número entero", value=raw) from None


def checked(form: Mapping[str, str], field: str) -> bool:
    return form.get(field) in ("on", "1", "true", "yes")


def optional_text(form: Mapping[str, str], field: str) -> str | None:
    value = (form.get(field) or "").strip()
    return value or None
