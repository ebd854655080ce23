"""Sandboxed Jinja2 texts and conditions, and what they refer to.

Flow authors are trusted less than code: templates run in Jinja2's sandbox, which blocks
attribute tricks that reach Python internals. Texts with no template syntax skip Jinja
entirely, since most bot texts are constant and rendering is on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import jinja2
from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from centralita.bot.fastpath import Compiler, Unsupported
from centralita.bot.inputs import parse_date, parse_number

# The names templates and conditions may use (flow-dsl.md, "Expressions and templates").
CONTEXT_NAMES = frozenset(
    {"contact", "message", "slots", "customer", "campaign", "candidates", "attempt", "now"}
    # Added to the spec's names: the chat's language, and today's date where the chat is.
    | {"language", "today"}
)


def _money(value: Any, symbol: str = "$", decimals: int = 0) -> str:
    """150000 -> "$150.000": Latin American grouping with dots, decimals after a comma.
    Text as customer files carry it ("1.250.000", "1250000,50") is read the same way."""
    if isinstance(value, str):
        parsed = parse_number(value)
        if parsed is None:
            return value
        value = parsed
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    grouped = f"{amount:,.{decimals}f}".replace(",", "\x00").replace(".", ",")
    return symbol + grouped.replace("\x00", ".")


def _as_date(value: Any) -> date | None:
    """A date from a date, a datetime or text (2026-03-15, 15/03/2026...); None if it is not one.
    With `today`: `((slots.fecha | as_date) - today).days`."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value)
    return None


def _make_env() -> ImmutableSandboxedEnvironment:
    # Immutable: a template cannot change slots or the customer (no .update(), .append()...).
    env = ImmutableSandboxedEnvironment(
        undefined=ChainableUndefined,  # customer.name with no customer renders empty, not a crash
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["money"] = _money
    env.filters["as_date"] = _as_date
    return env


ENV = _make_env()
_FAST = Compiler(ENV)


class RenderError(Exception):
    """A template or condition failed while running (not while validating)."""


@dataclass(frozen=True, slots=True)
class Template:
    """A text that may contain Jinja2; constant texts are kept as plain strings."""

    source: str
    _render: Callable[[Mapping[str, Any]], str] | None

    @property
    def constant(self) -> bool:
        return self._render is None

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
    _evaluate: Callable[[Mapping[str, Any]], Any]

    def value(self, context: Mapping[str, Any]) -> Any:
        try:
            result = self._evaluate(context)
        except TemplateError as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise RenderError(f"expression {self.source!r}: {type(exc).__name__}: {exc}") from exc
        return result

    def holds(self, context: Mapping[str, Any]) -> bool:
        return bool(self.value(context))


def has_syntax(source: str) -> bool:
    return "{{" in source or "{%" in source or "{#" in source


def base_context() -> dict[str, Any]:
    """The start of every template context: Jinja's globals (range, dict, ...).

    Templates run with the engine's context dict as their only scope (`shared=True` below),
    which skips copying globals and variables into a new dict on every render."""
    return dict(ENV.globals)


def _direct(template: jinja2.Template) -> Callable[[Mapping[str, Any]], str]:
    render_root = template.root_render_func
    new_context = template.new_context

    def render(context: Mapping[str, Any]) -> str:
        # shared=True takes the engine's context dict as the scope itself (a dict at run time).
        return "".join(render_root(new_context(cast("dict[str, Any]", context), shared=True)))

    return render


def compile_template(source: str) -> Template:
    """Compile a text; raises jinja2 TemplateError (syntax, unknown filter) for bad ones."""
    if not has_syntax(source):
        return Template(source, None)
    compiled = ENV.from_string(source)  # also the check: syntax errors, unknown filters
    try:
        return Template(source, _FAST.template(ENV.parse(source)))
    except Unsupported:
        return Template(source, _direct(compiled))


def compile_expression(source: str) -> Expression:
    compiled = ENV.compile_expression(source)  # also the check: syntax errors, unknown filters
    try:
        fast = _FAST.expr(_expression_node(source))
        return Expression(source, lambda context: _defined(fast(context)))
    except Unsupported:
        pass
    # Jinja compiles an expression into a template that assigns `result`; running that
    # template on the shared context directly avoids TemplateExpression's copies per call.
    template: jinja2.Template = compiled._template

    def evaluate(context: Mapping[str, Any]) -> Any:
        scope = template.new_context(cast("dict[str, Any]", context), shared=True)
        for _ in template.root_render_func(scope):
            pass
        return _defined(scope.vars["result"])

    return Expression(source, evaluate)


def _defined(value: Any) -> Any:
    # compile_expression's default (undefined_to_none): an undefined result is None.
    return None if isinstance(value, Undefined) else value


def _expression_node(source: str) -> nodes.Expr:
    tree = parse_expression(source)
    output = tree.body[0]
    assert isinstance(output, nodes.Output) and len(output.nodes) == 1
    return output.nodes[0]


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
    if tree.find(nodes.For) is not None:
        assigned.add("loop")  # Jinja defines `loop` (loop.index, loop.last...) inside for-loops
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
