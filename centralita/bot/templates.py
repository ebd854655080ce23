"""Sandboxed Jinja2 texts and conditions, and what they refer to.

Flow authors are trusted less than code: templates run in Jinja2's sandbox, which blocks
attribute tricks that reach Python internals. Texts with no template syntax skip Jinja
entirely, since most bot texts are constant and rendering is on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The names templates and conditions may use (flow-dsl.md, "Expressions and templates").
CONTEXT_NAMES = frozenset(
    {"contact", "message", "slots", "customer", "campaign", "candidates", "attempt", "now"}
)


def _money(value: Any, symbol: str = "$", decimals: int = 0) -> str:
    """150000 -> "$150.000": Latin American grouping with dots, decimals after a comma."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    grouped = f"{amount:,.{decimals}f}".replace(",", "\x00").replace(".", ",")
    return symbol + grouped.replace("\x00", ".")


def _make_env() -> ImmutableSandboxedEnvironment:
    # Immutable: a template cannot change slots or the customer (no .update(), .append()...).
    env = ImmutableSandboxedEnvironment(
        undefined=ChainableUndefined,  # customer.name with no customer renders empty, not a crash
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["money"] = _money
    return env


ENV = _make_env()


class RenderError(Exception):
    """A template or condition failed while running (not while validating)."""


@dataclass(frozen=True, slots=True)
class Template:
    """A text that may contain Jinja2; constant texts are kept as plain strings."""

    source: str
    _render: Callable[[Mapping[str, Any]], str] | None

    def render(self, context: Mapping[str, Any]) -> str:
        if self._render is None:
            return self.source
        try:
            return self._render(context)
        except TemplateError as exc:
            raise RenderError(f"template {self.source!r}: {exc}") from exc
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise RenderError(f"template {self.source!r}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Expression:
    """A sandboxed Jinja2 expression: a branch condition, or a `set` value kept typed."""

    source: str
    _evaluate: Callable[..., Any]

    def value(self, context: Mapping[str, Any]) -> Any:
        try:
            result = self._evaluate(**context)
        except TemplateError as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise RenderError(f"expression {self.source!r}: {type(exc).__name__}: {exc}") from exc
        return result

    def holds(self, context: Mapping[str, Any]) -> bool:
        return bool(self.value(context))


def has_syntax(source: str) -> bool:
    return "{{" in source or "{%" in source or "{#" in source


def compile_template(source: str) -> Template:
    """Compile a text; raises jinja2 TemplateError (syntax, unknown filter) for bad ones."""
    if not has_syntax(source):
        return Template(source, None)
    compiled = ENV.from_string(source)  # also the check: syntax errors, unknown filters
    fast = _substitution(ENV.parse(source))
    return Template(source, fast or compiled.render)


# Filters that are plain functions of their value (no environment, context or arguments).
_PLAIN_FILTERS = frozenset({"money", "upper", "lower", "title", "capitalize", "trim"})


def _substitution(tree: nodes.Template) -> Callable[[Mapping[str, Any]], str] | None:
    """Most bot texts only substitute values: `Hola {{ customer.name | title }}`. Rendering
    those through Jinja's full machinery costs more than the rest of a message's handling, so
    they get a direct renderer with the same semantics: the sandbox's attribute lookup, an
    undefined name renders empty, other values through str(). Anything else returns None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts: list[str | tuple[str, tuple[str, ...], tuple[Callable[[Any], Any], ...]]] = []
    for node in tree.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            parts.append(node.data)
            continue
        filters: list[Callable[[Any], Any]] = []
        expr: nodes.Node | None = node
        while isinstance(expr, nodes.Filter):
            if expr.name not in _PLAIN_FILTERS or expr.args or expr.kwargs:
                return None
            if expr.dyn_args or expr.dyn_kwargs:
                return None
            filters.insert(0, ENV.filters[expr.name])
            expr = expr.node
        attrs: list[str] = []
        while isinstance(expr, nodes.Getattr):
            attrs.insert(0, expr.attr)
            expr = expr.node
        if not isinstance(expr, nodes.Name):
            return None
        parts.append((expr.name, tuple(attrs), tuple(filters)))
    getattr_ = ENV.getattr
    undefined = ENV.undefined

    def render(context: Mapping[str, Any]) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, attrs, filters = part
            value = context[name] if name in context else undefined(name=name)
            for attr in attrs:
                value = getattr_(value, attr)
            for apply in filters:
                value = apply(value)
            out.append("" if isinstance(value, Undefined) else str(value))
        return "".join(out)

    return render


def compile_expression(source: str) -> Expression:
    return Expression(source, ENV.compile_expression(source))


def parse_template(source: str) -> nodes.Template:
    return ENV.parse(source)


def parse_expression(source: str) -> nodes.Template:
    # Parsing it inside {{ }} gives the same AST walk as templates and the same error positions.
    return ENV.parse("{{ (" + source + ") }}")


@dataclass(frozen=True)
class References:
    names: frozenset[str]  # top-level names used and not defined by the template itself
    slots: frozenset[str]  # slots.<name> and slots['name'] read


def references(tree: nodes.Template) -> References:
    """What a parsed template reads, so undefined names are found before a customer sees them."""
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names = {
        n.name for n in tree.find_all(nodes.Name) if n.ctx == "load" and n.name not in assigned
    }
    slots: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "slots":
            slots.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "slots"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            slots.add(item.arg.value)
    return References(frozenset(names), frozenset(slots))
