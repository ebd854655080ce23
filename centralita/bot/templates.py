"""Sandboxed Jinja2 texts and conditions, and what they refer to.

Flow authors are trusted less than code: templates run in Jinja2's sandbox, which blocks
attribute tricks that reach Python internals. Texts with no template syntax skip Jinja
entirely, since most bot texts are constant and rendering is on the hot path.

The sandbox keeps Python's internals out, not its appetite: `{{ 7 ** slots.n }}` with a reply
of 999999999, or `{{ 'x' * 500000000 }}`, would stall a worker or fill its memory. So every
way a template can make something big is capped, and a cap that is hit raises LimitExceeded,
naming the limit: at validation when the offending value is written in the template, else
while rendering (the engine then hands the chat off, as for any failing template).

- a template's source: MAX_TEMPLATE_CHARS, nested at most MAX_NESTING brackets/blocks deep and
  MAX_DEPTH operations deep (deeper ones would exhaust the parser's and compiler's stack);
- what it renders: MAX_OUTPUT_CHARS;
- every text, list or mapping it builds (`*`, `+`, `%`, `~`, literals, filters, method calls):
  MAX_ITEMS characters or items, counting what nested lists hold;
- integers it computes (`**`, `*`, `+`): MAX_INT_DIGITS digits;
- `range()`: MAX_RANGE numbers;
- loops and calls of one rendering: MAX_STEPS, and MAX_RENDER_SECONDS of time.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from string import Formatter
from typing import Any, NoReturn, cast

import jinja2
from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.filters import make_attrgetter
from jinja2.parser import Parser
from jinja2.runtime import Context, Macro
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Namespace, pass_context
from markupsafe import Markup

from centralita.bot.fastpath import Compiler, Guards, Unsupported
from centralita.bot.inputs import parse_date, parse_number

# The names templates and conditions may use (flow-dsl.md, "Expressions and templates").
CONTEXT_NAMES = frozenset(
    {"contact", "message", "slots", "customer", "campaign", "candidates", "attempt", "now"}
    # Added to the spec's names: the chat's language, and today's date where the chat is.
    | {"language", "today"}
)

# -- limits (docs/flow-authoring.md, "Limits") --------------------------------------------------

MAX_TEMPLATE_CHARS = 8_192  # source of one text or condition
MAX_NESTING = 20  # brackets, parentheses, blocks, `not` and signs inside each other
MAX_DEPTH = 100  # operations inside each other (`a + b + c ...`, `x|f|g ...`, `a.b.c ...`)
MAX_OUTPUT_CHARS = 4_096  # a rendered text (WhatsApp's limit for one message)
MAX_ITEMS = 10_000  # characters or items of any text, list or mapping a template builds
MAX_INT_DIGITS = 4_000  # digits of an integer a template computes
MAX_RANGE = 1_000  # numbers in range()
MAX_STEPS = 10_000  # loop iterations and calls while rendering one text
MAX_RENDER_SECONDS = 0.5  # time to render one text with loops or calls

_MAX_INT_BITS = math.ceil(MAX_INT_DIGITS * math.log2(10))
_MAX_ROUND_DIGITS = 100
_ENCODINGS = frozenset(
    {"utf-8", "utf8", "utf_8", "ascii", "latin-1", "latin1", "latin_1", "iso-8859-1"}
    | {"utf-16", "utf16", "utf_16", "utf-32", "utf32", "utf_32", "cp1252"}
)


class LimitExceeded(SecurityError):
    """A template went past one of the limits above. `lineno`: where, when known."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


def _too_big(what: str, size: int | str, limit: int, unit: str) -> NoReturn:
    amount = f"{size:,}" if isinstance(size, int) else size
    raise LimitExceeded(
        f"limit exceeded: {what} would have {amount} {unit}; the limit is {limit:,}"
    )


def _text_limit(length: int, what: str = "a text built by the template") -> None:
    if length > MAX_ITEMS:
        _too_big(what, length, MAX_ITEMS, "characters")


def _size(value: Any, limit: int = MAX_ITEMS, indent: int = 0) -> int:
    """Characters and items in a value, counting a list held twice twice (as str() would write
    it). With `indent`, also the indentation pretty-printing adds at each level. Stops counting
    once past `limit`, so it costs at most about `limit` steps whatever the value."""
    if not indent and type(value) in (list, tuple) and len(value) <= limit:
        # The common case, a flat list of texts and numbers, without the general walk.
        total = 1
        for item in value:
            kind = type(item)
            if kind is str:
                total += len(item)
            elif kind is int:
                total += 1 + item.bit_length() // 3
            elif kind is float or kind is bool or item is None:
                total += 1
            else:
                return _walk(value, limit, indent)
        return total
    return _walk(value, limit, indent)


def _walk(value: Any, limit: int, indent: int) -> int:
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        total += level * indent
        if isinstance(item, str | bytes):
            total += len(item)
        elif type(item) is int:
            total += 1 + item.bit_length() // 3
        elif isinstance(item, list | tuple | set | frozenset | dict):
            if len(item) > limit:
                return limit + len(item)
            total += 1
            stack.extend((part, level + 1) for part in item)
            if isinstance(item, dict):
                stack.extend((part, level + 1) for part in item.values())
        elif isinstance(item, Namespace):
            total += 1
            stack.append((object.__getattribute__(item, "_Namespace__attrs"), level))
        else:
            total += 1
        if total > limit:
            return total
    return total


_CONTAINERS = (list, tuple, set, frozenset, dict, Namespace)


def _checked(value: Any) -> Any:
    """`value`, if something a template built from it stays within the limits."""
    kind = type(value)
    if kind is str:
        if len(value) > MAX_ITEMS:
            _text_limit(len(value))
    elif kind is int:
        if value.bit_length() > _MAX_INT_BITS:
            _check_int_operands(value)
    elif kind is bool or kind is float or value is None:
        pass
    elif kind is list or kind is tuple or kind is dict or isinstance(value, _CONTAINERS):
        if _size(value) > MAX_ITEMS:
            _too_big(
                "a list built by the template",
                f"more than {MAX_ITEMS:,}",
                MAX_ITEMS,
                "items and characters (counting those of nested lists)",
            )
    elif isinstance(value, str | bytes):
        _text_limit(len(value))
    return value


def _checked_text(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ITEMS:
        _text_limit(len(value))
    return value


# -- operators ---------------------------------------------------------------------------------

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.S)


def _format_widths(numbers: Iterable[str]) -> None:
    """Widths and precisions of format fields, which pad the output to them."""
    total = 0
    for number in numbers:
        if number == "*":
            raise LimitExceeded("limit exceeded: '*' widths are not allowed in % formatting")
        if number:
            total += int(number[-15:]) if len(number) <= 15 else 10**15
    if total > MAX_ITEMS:
        _too_big("a formatted text", f"widths adding up to {total:,}", MAX_ITEMS, "characters")


def _check_percent(text: str) -> None:
    _format_widths(n for m in _PERCENT_FIELD.finditer(text) for n in m.group(1, 2) if n)


def _check_repeat(seq: Any, times: Any) -> None:
    """`seq * times`, before Python allocates it."""
    if isinstance(times, bool) or not isinstance(times, int) or times <= 1:
        return
    if isinstance(seq, str | bytes):
        _text_limit(len(seq) * times if len(seq) else 0)
    elif isinstance(seq, list | tuple) and (
        len(seq) * times > MAX_ITEMS or _size(seq) * times > MAX_ITEMS
    ):
        _too_big("a list built by the template", len(seq) * times, MAX_ITEMS, "items")


def _check_power(base: Any, exponent: Any) -> None:
    if type(base) not in (int, bool) or type(exponent) not in (int, bool) or exponent <= 1:
        return
    bits = abs(base).bit_length() - 1  # log2(|base|) is at least this
    if bits > 0 and bits * exponent > _MAX_INT_BITS:
        raise LimitExceeded(
            f"limit exceeded: {base} ** {exponent} would have about "
            f"{int(exponent * math.log10(abs(base))):,} digits; numbers are limited to "
            f"{MAX_INT_DIGITS:,} digits"
        )


def _check_int_operands(*values: Any) -> None:
    if sum(v.bit_length() for v in values if type(v) is int) > _MAX_INT_BITS + 1:
        raise LimitExceeded(
            f"limit exceeded: a number built by the template would have more than "
            f"{MAX_INT_DIGITS:,} digits (the limit)"
        )


def _multiply(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is float or (kind is int and type(right) is float):
        return left * right
    if kind is int and type(right) is int:
        if left.bit_length() + right.bit_length() > _MAX_INT_BITS + 1:
            _check_int_operands(left, right)
        return left * right
    _check_repeat(left, right)
    _check_repeat(right, left)
    return _checked(left * right)


def _power(left: Any, right: Any) -> Any:
    _check_power(left, right)
    return _checked(left**right)


def _add(left: Any, right: Any) -> Any:
    kind = type(left)
    if kind is float or (kind is int and type(right) is float):
        return left + right
    if kind is int and type(right) is int:
        result = left + right
        if result.bit_length() > _MAX_INT_BITS:
            _check_int_operands(result)
        return result
    if isinstance(left, str | bytes) and isinstance(right, str | bytes):
        _text_limit(len(left) + len(right))
    return _checked(left + right)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_percent(left)
    elif isinstance(left, bytes):
        _check_percent(left.decode("latin-1"))
    return _checked_text(left % right)


# The operators the environment intercepts, each with its limits (see _FlowEnvironment).
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _multiply,
    "**": _power,
    "+": _add,
    "%": _modulo,
}


def _binop(operator: str, left: Any, right: Any) -> Any:
    return _BINOPS[operator](left, right)


# -- calls -------------------------------------------------------------------------------------


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], i: int, name: str) -> Any:
    return args[i] if len(args) > i else kwargs.get(name)


def _width_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    width = _argument(args, kwargs, 0, "width")
    if isinstance(width, int) and width > MAX_ITEMS:
        _text_limit(width, "a padded text")
    return args


def _expandtabs_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    size = _argument(args, kwargs, 0, "tabsize")
    if isinstance(size, int) and size > 0:
        _text_limit(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * size)
    return args


def _replace_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if len(args) >= 2 and type(args[0]) is type(owner) and type(args[1]) is type(owner):
        old, new = args[0], args[1]
        count = owner.count(old)
        limit = _argument(args, kwargs, 2, "count")
        if isinstance(limit, int) and 0 <= limit < count:
            count = limit
        _text_limit(len(owner) + count * (len(new) - len(old)))
    return args


def _join_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    if len(args) != 1:
        return args
    items = list(args[0])
    length = len(owner) * max(len(items) - 1, 0)
    for item in items:
        if isinstance(item, str | bytes):
            length += len(item)
        if length > MAX_ITEMS:
            _text_limit(length)
    return (items,)


def _translate_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    table = _argument(args, kwargs, 0, "table")
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        _text_limit(len(owner) * max(longest, 1))
    elif table is not None:
        raise LimitExceeded("limit exceeded: translate() takes a mapping in templates")
    return args


def _codec_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    encoding = _argument(args, kwargs, 0, "encoding")
    if encoding is not None and str(encoding).lower() not in _ENCODINGS:
        raise LimitExceeded(
            f"limit exceeded: encoding {encoding!r} is not allowed in templates "
            f"(use one of {', '.join(sorted(_ENCODINGS))})"
        )
    return args


def _to_bytes_guard(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    length = _argument(args, kwargs, 0, "length")
    if isinstance(length, int) and length > MAX_ITEMS:
        _text_limit(length, "bytes built by the template")
    return args


_Guard = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]
# Methods of texts and bytes (and int.to_bytes) whose result can be far bigger than their input.
_METHOD_GUARDS: dict[Any, _Guard] = {
    "center": _width_guard,
    "ljust": _width_guard,
    "rjust": _width_guard,
    "zfill": _width_guard,
    "expandtabs": _expandtabs_guard,
    "replace": _replace_guard,
    "join": _join_guard,
    "translate": _translate_guard,
    "encode": _codec_guard,
    "decode": _codec_guard,
    "to_bytes": _to_bytes_guard,
}


def _own(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments minus those Jinja's generated code adds (_loop_vars, _block_vars)."""
    return {k: v for k, v in kwargs.items() if not k.startswith("_")}


def _guarded_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a call's arguments before it runs; returns the arguments to call it with."""
    guard = _METHOD_GUARDS.get(getattr(func, "__name__", None))
    if guard is not None:
        owner = getattr(func, "__self__", None)
        if isinstance(owner, str | bytes) or (type(owner) is int and guard is _to_bytes_guard):
            return guard(owner, args, kwargs)
    # A macro's arguments end up in its varargs/kwargs, which it could store and pass on.
    if isinstance(func, Macro) and _size((args, _own(kwargs))) > MAX_ITEMS:
        _too_big("the arguments of a macro", f"more than {MAX_ITEMS:,}", MAX_ITEMS, "items")
    return args


def _checked_result(value: Any) -> Any:
    """_checked, quicker for the usual results of method calls (flags, texts, numbers)."""
    kind = type(value)
    if kind is bool or value is None or kind is float:
        return value
    if kind is str:
        if len(value) > MAX_ITEMS:
            _text_limit(len(value))
        return value
    return _checked(value)


class _FastGuards(Guards):
    """The same limits for templates the fast path runs (fastpath.py)."""

    def value(self, value: Any) -> Any:
        return _checked(value)

    def text(self, value: str) -> str:
        if len(value) > MAX_ITEMS:
            _text_limit(len(value))
        return value

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _checked_result(func(*_guarded_call(func, args, kwargs), **kwargs))

    def binop(self, operator: str) -> Callable[[Any, Any], Any] | None:
        return _BINOPS.get(operator)

    def output(self, text: str) -> str:
        if len(text) > MAX_OUTPUT_CHARS:
            _output_limit(len(text))
        return text


def _output_limit(length: int | str) -> NoReturn:
    _too_big("the rendered text", length, MAX_OUTPUT_CHARS, "characters")


# -- loops and time ----------------------------------------------------------------------------


class _Context(Context):
    """Jinja's context for one rendering, carrying that rendering's budget of steps and time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps_left = MAX_STEPS
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS


def _step(context: Any) -> None:
    left = getattr(context, "steps_left", None)
    if left is None:
        return
    if left <= 0:
        raise LimitExceeded(
            f"limit exceeded: the template ran more than {MAX_STEPS:,} loop iterations and "
            "calls in one rendering"
        )
    context.steps_left = left - 1
    if time.monotonic() > context.deadline:
        raise LimitExceeded(
            f"limit exceeded: the template took longer than {MAX_RENDER_SECONDS:g} s to render"
        )


_LOOP_FILTER = "counted loop"  # not a name a template can write: only the code generator's


@pass_context
def _counted(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _step(context)
        yield item


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop counted and every built value checked."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        _count_loops(node)
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_text(")
        super().visit_Concat(node, frame)
        self.write(")")

    def _sized(self, node: nodes.Expr, frame: Frame, visit: Callable[..., None]) -> None:
        try:
            node.as_const(frame.eval_ctx)  # a constant holds what its source spells out
        except nodes.Impossible:
            self.write("environment.sized(")
            visit(node, frame)
            self.write(")")
        else:
            visit(node, frame)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._sized(node, frame, super().visit_List)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._sized(node, frame, super().visit_Dict)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "load":
            self._sized(node, frame, super().visit_Tuple)
        else:  # a target: `{% for a, b in ... %}`
            super().visit_Tuple(node, frame)


def _count_loops(tree: nodes.Template) -> None:
    """Make every `for` (and every `loop(...)` of a recursive one) iterate through _counted."""

    def counted(node: nodes.Node) -> nodes.Expr:
        if isinstance(node, nodes.Filter) and node.name == _LOOP_FILTER:
            return node
        wrapped = nodes.Filter(node, _LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        wrapped.set_environment(ENV)
        return wrapped

    for loop in tree.find_all(nodes.For):
        loop.iter = counted(loop.iter)
        if loop.recursive:
            for body in loop.body:
                calls = [body] if isinstance(body, nodes.Call) else []
                for call in [*calls, *body.find_all(nodes.Call)]:
                    if isinstance(call.node, nodes.Name) and call.node.name == "loop" and call.args:
                        call.args[0] = counted(call.args[0])


# -- filters -----------------------------------------------------------------------------------

# Filters whose result is never much bigger than what they get, and cannot grow by repetition;
# they run unwrapped (several are on the hot path). Every other filter's result is checked.
_PLAIN_FILTERS = frozenset(
    {"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "first", "float"}
    | {"filesizeformat", "int", "items", "last", "length", "list", "lower", "map", "max", "min"}
    | {"random", "reject", "rejectattr", "reverse", "safe", "select", "selectattr", "sort"}
    | {"striptags", "title", "trim", "unique", "upper", "wordcount", "money", "as_date"}
)


def _filter_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The arguments Jinja calls a filter with. Filters with an async variant are called with
    the evaluation context first, which the sync function they wrap does not take."""
    signature = inspect.signature(func)
    if (
        getattr(func, "jinja_pass_arg", None) is not None
        and getattr(inspect.unwrap(func), "jinja_pass_arg", None) is None
    ):
        passed = inspect.Parameter("_passed", inspect.Parameter.POSITIONAL_ONLY)
        signature = signature.replace(parameters=[passed, *signature.parameters.values()])
    return signature


def _capped_filter(
    original: Callable[..., Any], check: Callable[[dict[str, Any]], None] | None = None
) -> Callable[..., Any]:
    """`original` with `check` run on its bound arguments first and its result checked after."""
    signature = _filter_signature(original) if check is not None else None

    @functools.wraps(original)
    def capped(*args: Any, **kwargs: Any) -> Any:
        if check is not None and signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                pass  # the original raises the same error, with Jinja's words
            else:
                bound.apply_defaults()
                check(bound.arguments)
        return _checked(original(*args, **kwargs))

    return capped


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _check_center(a: dict[str, Any]) -> None:
    width = a.get("width")
    if isinstance(width, int) and width > MAX_ITEMS:
        _text_limit(width, "a centered text")


def _check_indent(a: dict[str, Any]) -> None:
    text, width = _text_of(a.get("s")), a.get("width")
    prefix = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    _text_limit(len(text) + (text.count("\n") + 1) * max(prefix, 0), "an indented text")


def _check_wordwrap(a: dict[str, Any]) -> None:
    text, width, wrap = _text_of(a.get("s")), a.get("width"), a.get("wrapstring")
    if not isinstance(width, int) or not isinstance(wrap, str | type(None)):
        return
    lines = len(text.split()) + text.count("-") + text.count("\n") + len(text) // max(width, 1)
    _text_limit(len(text) + (lines + 1) * len(wrap or "\n"), "a wrapped text")


def _check_format(a: dict[str, Any]) -> None:
    _check_percent(_text_of(a.get("value")))


def _check_replace(a: dict[str, Any]) -> None:
    text, old, new, count = _text_of(a.get("s")), a.get("old"), a.get("new"), a.get("count")
    if not isinstance(old, str) or not isinstance(new, str):
        return
    times = text.count(old)
    if isinstance(count, int) and 0 <= count < times:
        times = count
    _text_limit(len(text) + times * (len(new) - len(old)))


def _check_fill(count: Any, fill: Any, what: str) -> None:
    if fill is not None and isinstance(count, int) and count * _size(fill) > MAX_ITEMS:
        _too_big(what, count * _size(fill), MAX_ITEMS, "items")


def _check_batch(a: dict[str, Any]) -> None:
    _check_fill(a.get("linecount"), a.get("fill_with"), "a batch")


def _check_slice(a: dict[str, Any]) -> None:
    slices = a.get("slices")
    if isinstance(slices, int) and slices > MAX_ITEMS:
        _too_big("slice()", slices, MAX_ITEMS, "slices")
    _check_fill(slices, a.get("fill_with"), "the slices")


def _check_round(a: dict[str, Any]) -> None:
    precision = a.get("precision")
    if isinstance(precision, int) and abs(precision) > _MAX_ROUND_DIGITS:
        raise LimitExceeded(
            f"limit exceeded: round() to {precision:,} digits; the limit is "
            f"{_MAX_ROUND_DIGITS} either way"
        )


def _check_pretty(value: Any, indent: Any) -> None:
    width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if width and _size(value, MAX_ITEMS, max(width, 0)) > MAX_ITEMS:
        _text_limit(MAX_ITEMS + 1, "an indented text")


def _check_tojson(a: dict[str, Any]) -> None:
    _check_pretty(a.get("value"), a.get("indent"))


def _check_pprint(a: dict[str, Any]) -> None:
    _check_pretty(a.get("value"), 1)


def _check_urlize(a: dict[str, Any]) -> None:
    text = _text_of(a.get("value"))
    extra = sum(len(str(a.get(k) or "")) for k in ("target", "rel"))
    _text_limit(len(text) + (len(text) // 4 + 1) * extra, "a text with links")


def _join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """join, adding up the length of what it joins before joining it."""

    @functools.wraps(original)
    def join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> Any:
        if attribute is not None:
            value = map(make_attrgetter(eval_ctx.environment, attribute), value)
        items = list(value)
        length = len(str(d)) * max(len(items) - 1, 0)
        _text_limit(length, "a joined text")
        for item in items:
            length += len(_text_of(item))
            _text_limit(length, "a joined text")
        return _checked(original(eval_ctx, items, d))

    return join


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format,
    "replace": _check_replace,
    "batch": _check_batch,
    "slice": _check_slice,
    "round": _check_round,
    "tojson": _check_tojson,
    "pprint": _check_pprint,
    "urlize": _check_urlize,
}


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        _too_big("range()", len(numbers), MAX_RANGE, "numbers")
    return numbers


# -- the environment ---------------------------------------------------------------------------


class _LimitedParser(Parser):
    """Jinja's parser, refusing nesting deep enough to exhaust Python's stack while parsing."""

    nesting = 0

    def _nested(self, parse: Callable[[], nodes.Node]) -> Any:
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                self.fail(
                    f"template too deeply nested: more than {MAX_NESTING} brackets, "
                    "parentheses, blocks or not/-/+ inside each other (the limit)",
                    self.stream.current.lineno,
                )
            return parse()
        finally:
            self.nesting -= 1

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        parse = functools.partial(super().parse_expression, with_condexpr)
        return cast(nodes.Expr, self._nested(parse))

    def parse_statement(self) -> nodes.Node | list[nodes.Node]:
        parse = cast("Callable[[], nodes.Node]", super().parse_statement)
        return cast("nodes.Node | list[nodes.Node]", self._nested(parse))

    def parse_not(self) -> nodes.Expr:
        if self.stream.current.test("name:not"):
            return cast(nodes.Expr, self._nested(super().parse_not))
        return super().parse_not()

    def parse_unary(self, with_filter: bool = True) -> nodes.Expr:
        if self.stream.current.type in ("sub", "add"):
            return cast(
                nodes.Expr, self._nested(functools.partial(super().parse_unary, with_filter))
            )
        return super().parse_unary(with_filter)


def _check_source(source: str) -> None:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise LimitExceeded(
            f"limit exceeded: the template has {len(source):,} characters; the limit is "
            f"{MAX_TEMPLATE_CHARS:,} (split it, or move long parts to separate texts)"
        )


def _check_depth(tree: nodes.Node) -> None:
    """Compiling (and rendering, in the fast path) recurses once per level of the tree."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TemplateSyntaxError(
                f"template too deeply nested: more than {MAX_DEPTH} operations inside each "
                "other (the limit)",
                getattr(node, "lineno", None) or 1,
            )
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


class _FlowEnvironment(ImmutableSandboxedEnvironment):
    # Intercepted operators go through call_binop, which Jinja also never constant-folds:
    # `{{ 7 ** 999999999 }}` no longer hangs the compiler.
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _CodeGenerator
    context_class = _Context

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _capped_range
        for name in ("lipsum", "cycler", "joiner"):
            del self.globals[name]
        filters: dict[str, Any] = {}
        for name, func in self.filters.items():
            if name == "join":
                filters[name] = _join_filter(func)
            elif name not in _PLAIN_FILTERS:
                filters[name] = _capped_filter(func, _FILTER_CHECKS.get(name))
        self.filters.update(filters)
        self.filters[_LOOP_FILTER] = _counted

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        _check_source(source)
        tree = _LimitedParser(self, source, name, filename).parse()
        _check_depth(tree)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return _BINOPS[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step(__context)
        args = _guarded_call(__obj, args, kwargs)
        return _checked_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """str.format with the widths of its fields counted (`'{:>999999999}'.format(1)`)."""
        if super().wrap_str_format(value) is None:
            return None
        text: str = value.__self__
        method = value.__name__

        def format(*args: Any, **kwargs: Any) -> str:
            formatter: Formatter
            if isinstance(text, Markup):
                formatter = _EscapeFormatter(self, escape=text.escape)
            else:
                formatter = _Formatter(self)
            if method == "format_map":  # as Jinja's own wrapper
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                return _format_map(formatter, text, args[0])
            result = type(text)(formatter.vformat(text, args, kwargs))
            return cast(str, _checked_text(result))

        return functools.update_wrapper(format, value)

    # Used by the generated code (see _CodeGenerator): `~`, literals, and buffered output.
    @staticmethod
    def checked_text(value: Any) -> Any:
        return _checked_text(value)

    @staticmethod
    def sized(value: Any) -> Any:
        return _checked(value)

    @staticmethod
    def concat(parts: Iterable[str]) -> str:
        """What a macro, `{% set %}` block or `{% filter %}` block wrote, joined."""
        if type(parts) is list:
            _text_limit(sum(map(len, parts)))
            return "".join(parts)
        kept: list[str] = []
        length = 0
        for part in parts:
            length += len(part)
            _text_limit(length)
            kept.append(part)
        return "".join(kept)


def _format_map(formatter: Formatter, text: str, mapping: Any) -> str:
    return cast(str, _checked_text(type(text)(formatter.vformat(text, (), mapping))))


class _SpecCheck(SandboxedFormatter):
    widths = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in re.findall(r"\d+", format_spec):
            self.widths += int(number) if len(number) <= 15 else 10**15
        if self.widths > MAX_ITEMS:
            _too_big(
                "a formatted text", f"widths adding up to {self.widths:,}", MAX_ITEMS, "characters"
            )
        return super().format_field(value, format_spec)


class _Formatter(_SpecCheck):
    pass


class _EscapeFormatter(_SpecCheck, SandboxedEscapeFormatter):
    pass


def _money(value: Any, symbol: str = "$", decimals: int = 0) -> str:
    """150000 -> "$150.000": Latin American grouping with dots, decimals after a comma.
    Text as customer files carry it ("1.250.000", "1250000,50") is read the same way."""
    if isinstance(decimals, int) and abs(decimals) > _MAX_ROUND_DIGITS:
        raise LimitExceeded(
            f"limit exceeded: money with {decimals:,} decimals; the limit is {_MAX_ROUND_DIGITS}"
        )
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


def _make_env() -> _FlowEnvironment:
    # Immutable: a template cannot change slots or the customer (no .update(), .append()...).
    env = _FlowEnvironment(
        undefined=ChainableUndefined,  # customer.name with no customer renders empty, not a crash
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["money"] = _money
    env.filters["as_date"] = _as_date
    return env


ENV = _make_env()
_FAST = Compiler(ENV, _FastGuards())
# The names templates may use besides CONTEXT_NAMES: Jinja's globals that remain.
GLOBAL_NAMES = frozenset(ENV.globals)


def filter_names() -> list[str]:
    """The filters flow authors can use (not the code generator's own)."""
    return sorted(name for name in ENV.filters if name.isidentifier())


class RenderError(Exception):
    """A template or condition failed while running (not while validating)."""


def _brief(source: str) -> str:
    return repr(source if len(source) <= 200 else source[:200] + "...")


def _render_failure(kind: str, source: str, exc: BaseException) -> RenderError:
    if isinstance(exc, TemplateError):
        return RenderError(f"{kind} {_brief(source)}: {exc}")
    if isinstance(exc, MemoryError):
        return RenderError(f"{kind} {_brief(source)}: ran out of memory")
    if isinstance(exc, RecursionError):
        return RenderError(f"{kind} {_brief(source)}: calls itself too deeply (recursion)")
    return RenderError(f"{kind} {_brief(source)}: {type(exc).__name__}: {exc}")


_RENDER_ERRORS = (
    TemplateError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    MemoryError,
    RecursionError,
)


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
        except _RENDER_ERRORS as exc:
            raise _render_failure("template", self.source, exc) from exc


@dataclass(frozen=True, slots=True)
class Expression:
    """A sandboxed Jinja2 expression: a branch condition, or a `set` value kept typed."""

    source: str
    _evaluate: Callable[[Mapping[str, Any]], Any]

    def value(self, context: Mapping[str, Any]) -> Any:
        try:
            return self._evaluate(context)
        except _RENDER_ERRORS as exc:
            raise _render_failure("expression", self.source, exc) from exc

    def holds(self, context: Mapping[str, Any]) -> bool:
        return bool(self.value(context))


def has_syntax(source: str) -> bool:
    return "{{" in source or "{%" in source or "{#" in source


def base_context() -> dict[str, Any]:
    """The start of every template context: Jinja's globals (range, dict, namespace).

    Templates run with the engine's context dict as their only scope (`shared=True` below),
    which skips copying globals and variables into a new dict on every render."""
    return dict(ENV.globals)


def _direct(template: jinja2.Template) -> Callable[[Mapping[str, Any]], str]:
    render_root = template.root_render_func
    new_context = template.new_context

    def render(context: Mapping[str, Any]) -> str:
        # shared=True takes the engine's context dict as the scope itself (a dict at run time).
        parts: list[str] = []
        length = 0
        for part in render_root(new_context(cast("dict[str, Any]", context), shared=True)):
            length += len(part)
            if length > MAX_OUTPUT_CHARS:
                _output_limit(f"more than {MAX_OUTPUT_CHARS:,}")
            parts.append(part)
        return "".join(parts)

    return render


class _Compiling:
    """Turns what compiling a pathological template can raise into a LimitExceeded."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None or isinstance(exc, TemplateError):
            return
        if isinstance(exc, RecursionError | SyntaxError):
            # SyntaxError: Python's "too many nested parentheses" in the generated code.
            raise LimitExceeded(
                "limit exceeded: template too deeply nested to compile; "
                f"keep it under {MAX_DEPTH} operations inside each other"
            ) from exc
        if isinstance(exc, MemoryError | OverflowError):
            raise LimitExceeded(f"limit exceeded: template too large to compile ({exc})") from exc


def _check_constants(tree: nodes.Node) -> None:
    """Operators and filters applied to constants: an operation over a limit is a validation
    error (`{{ 'x' * 500000000 }}`), not a failure with the first customer."""
    eval_ctx = nodes.EvalContext(ENV)
    known: dict[int, Any] = {}  # id(node) -> its constant value, or _UNKNOWN

    def value(node: nodes.Node) -> Any:
        """The node's constant value; raises Impossible if it has none."""
        if id(node) not in known:
            try:
                known[id(node)] = _constant_value(node, eval_ctx, value)
            except LimitExceeded as exc:
                if exc.lineno is None:
                    exc.lineno = node.lineno
                raise
            except Exception:  # noqa: BLE001 - not constant, or fails only at run time
                known[id(node)] = _UNKNOWN
        if known[id(node)] is _UNKNOWN:
            raise nodes.Impossible()
        return known[id(node)]

    for node in tree.find_all((nodes.BinExpr, nodes.Filter)):
        with contextlib.suppress(nodes.Impossible):
            value(node)


_UNKNOWN = object()


def _constant_value(
    node: nodes.Node, eval_ctx: nodes.EvalContext, value: Callable[[nodes.Node], Any]
) -> Any:
    if isinstance(node, nodes.BinExpr) and node.operator in ENV.intercepted_binops:
        return _binop(node.operator, value(node.left), value(node.right))
    if isinstance(node, nodes.Filter) and (node.name in _FILTER_CHECKS or node.name == "join"):
        if node.node is None or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise nodes.Impossible()
        args = [value(node.node), *(value(a) for a in node.args)]
        kwargs = {str(k.key): value(k.value) for k in node.kwargs}
        func = ENV.filters[node.name]
        passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
        if passes == "environment":
            args.insert(0, ENV)
        elif passes == "eval_context":
            args.insert(0, eval_ctx)
        elif passes is not None:
            raise nodes.Impossible()
        return func(*args, **kwargs)
    if isinstance(node, nodes.Expr):
        return node.as_const(eval_ctx)
    raise nodes.Impossible()


def compile_template(source: str) -> Template:
    """Compile a text; raises jinja2 TemplateError (syntax, unknown filter, limit) if bad."""
    if not has_syntax(source):
        if len(source) > MAX_OUTPUT_CHARS:
            raise LimitExceeded(
                f"limit exceeded: the text has {len(source):,} characters; the limit is "
                f"{MAX_OUTPUT_CHARS:,}"
            )
        return Template(source, None)
    with _Compiling():
        compiled = ENV.from_string(source)  # also the check: syntax errors, unknown filters
        tree = ENV.parse(source)
        _check_constants(tree)
        try:
            return Template(source, _FAST.template(tree))
        except Unsupported:
            return Template(source, _direct(compiled))


def _parse_expression_node(source: str) -> nodes.Expr:
    """An expression as Jinja's compile_expression parses it (and words its errors)."""
    _check_source(source)
    parser = _LimitedParser(ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    _check_depth(expr)
    expr.set_environment(ENV)
    return expr


def compile_expression(source: str) -> Expression:
    """Compile a condition or typed value; raises jinja2 TemplateError for bad ones."""
    with _Compiling():
        expr = _parse_expression_node(source)  # also the check: syntax errors, limits
        _check_constants(expr)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        template = ENV.from_string(nodes.Template(body, lineno=1))  # unknown filters
        try:
            fast = _FAST.expr(_parse_expression_node(source))
            return Expression(source, lambda context: _defined(fast(context)))
        except Unsupported:
            pass

    # Running the compiled template on the shared context directly avoids the copies
    # TemplateExpression makes per call.
    def evaluate(context: Mapping[str, Any]) -> Any:
        scope = template.new_context(cast("dict[str, Any]", context), shared=True)
        for _ in template.root_render_func(scope):
            pass
        return _defined(scope.vars["result"])

    return Expression(source, evaluate)


def _defined(value: Any) -> Any:
    # compile_expression's default (undefined_to_none): an undefined result is None.
    return None if isinstance(value, Undefined) else value


def parse_template(source: str) -> nodes.Template:
    with _Compiling():
        return ENV.parse(source)


def parse_expression(source: str) -> nodes.Template:
    """An expression as a template `{{ expression }}`, for the same AST walks as templates;
    errors are worded (and lines numbered) as compile_expression has them."""
    with _Compiling():
        expr = _parse_expression_node(source)
    tree = nodes.Template([nodes.Output([expr], lineno=1)], lineno=1)
    tree.set_environment(ENV)
    return tree


@dataclass(frozen=True)
class References:
    names: frozenset[str]  # top-level names used and not defined by the template itself
    slots: frozenset[str]  # slots.<name> and slots['name'] read
    lines: Mapping[str, int] = field(default_factory=dict)  # names: line of first use


def references(tree: nodes.Template) -> References:
    """What a parsed template reads, so undefined names are found before a customer sees them."""
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    if tree.find(nodes.For) is not None:
        assigned.add("loop")  # Jinja defines `loop` (loop.index, loop.last...) inside for-loops
    macros = list(tree.find_all(nodes.Macro))
    assigned.update(m.name for m in macros)
    if macros or tree.find(nodes.CallBlock) is not None:
        assigned.update({"varargs", "kwargs", "caller"})  # what Jinja defines inside macros
    lines: dict[str, int] = {}
    for n in tree.find_all(nodes.Name):
        if n.ctx == "load" and n.name not in assigned:
            lines[n.name] = min(lines.get(n.name, n.lineno), n.lineno)
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
    return References(frozenset(lines), frozenset(slots), lines)
