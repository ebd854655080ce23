"""Direct evaluation of the common Jinja2 subset bot texts and conditions use.

Every message renders several texts and checks several conditions, and Jinja's per-call
machinery (a new Context, generator plumbing) costs more than the rest of the interpreter.
Flow authors mostly write substitutions (`{{ customer.name | title }}`), simple `{% if %}`s
and conditions such as `(customer.dias_mora | int) >= 90 and contact.phone.startswith('+57')`.
This module compiles those ASTs, as Jinja parsed them, into closures with the same semantics
as Jinja's generated code in our sandboxed environment: attribute and item access through the
sandbox, method calls only when the sandbox deems them safe, plain filters and tests, and the
environment's intercepted operators through its call_binop. Anything else (loops, `set`,
macros, str.format...) raises Unsupported and the caller keeps the full Jinja path, so the fast
path never changes what a flow can do. The caller's Guards apply the same resource limits as
its Jinja environment to what the fast path builds: literals, `~`, method calls, the output.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, cast

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context as JinjaContext
from jinja2.sandbox import SandboxedEnvironment

Context = Mapping[str, Any]
Evaluator = Callable[[Context], Any]

_BINARY: dict[type[nodes.Node], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv,
    nodes.Mod: operator.mod,
    nodes.Pow: operator.pow,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
# Methods whose sandboxed call Jinja rewrites (format strings): left to Jinja.
_FORMAT_METHODS = frozenset({"format", "format_map"})


class Unsupported(Exception):
    """This AST uses something outside the fast subset."""


class Guards:
    """Checks on what a template builds; these let everything through (see templates.py)."""

    def value(self, value: Any) -> Any:
        """A list, tuple or dict the template built from a literal."""
        return value

    def text(self, value: str) -> str:
        """A text the template built with `~`."""
        return value

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A method call the sandbox allows."""
        return func(*args, **kwargs)

    def output(self, text: str) -> str:
        """The whole rendered text."""
        return text

    def binop(self, operator: str) -> Callable[[Any, Any], Any] | None:
        """The environment's call_binop for `operator`, as a function of the two operands (it
        must do what call_binop does); None: call call_binop."""
        return None


class Compiler:
    def __init__(self, env: SandboxedEnvironment, guards: Guards | None = None) -> None:
        self.env = env
        self.guards = guards or Guards()
        self.getattr = self._make_getattr()
        self.eval_context = nodes.EvalContext(env)

    def _make_getattr(self) -> Callable[[Any, str], Any]:
        """The sandbox's getattr, minus its costly paths for the two commonest cases.

        `customer.name` on a plain dict: Jinja first tries the attribute, catches the
        AttributeError, then the item; a dict has no instance attributes, so for names that are
        not dict methods the outcome is the item or undefined, decided without the exception.
        `phone.startswith` on a str: the sandbox's safety verdict depends only on the name, so
        it is cached. Every other object goes through the sandbox unchanged."""
        env = self.env
        slow = env.getattr
        undefined = env.undefined
        dict_names = frozenset(dir(dict))
        # str.format and format_map are only safe as the sandbox wraps them: never cached.
        str_verdicts: dict[str, bool] = dict.fromkeys(_FORMAT_METHODS, False)

        def get(obj: Any, attr: str) -> Any:
            kind = type(obj)
            if kind is dict and attr not in dict_names:
                try:
                    return obj[attr]
                except KeyError:
                    return undefined(obj=obj, name=attr)
            if kind is str:
                verdict = str_verdicts.get(attr)
                if verdict is None:
                    try:
                        value = getattr(obj, attr)
                    except AttributeError:
                        return slow(obj, attr)
                    verdict = str_verdicts[attr] = env.is_safe_attribute(obj, attr, value)
                if verdict:
                    return getattr(obj, attr)
            return slow(obj, attr)

        return get

    # -- expressions -------------------------------------------------------------------------

    def expr(self, node: nodes.Node) -> Evaluator:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(type(node).__name__)
        result: Evaluator = method(node)
        return result

    def _Const(self, node: nodes.Const) -> Evaluator:
        value = node.value
        return lambda _: value

    def _Name(self, node: nodes.Name) -> Evaluator:
        if node.ctx != "load":
            raise Unsupported("store")
        name, undefined = node.name, self.env.undefined

        def load(context: Context) -> Any:
            try:
                return context[name]
            except KeyError:
                return undefined(name=name)

        return load

    def _Getattr(self, node: nodes.Getattr) -> Evaluator:
        target, attr, getattr_ = self.expr(node.node), node.attr, self.getattr
        return lambda context: getattr_(target(context), attr)

    def _Getitem(self, node: nodes.Getitem) -> Evaluator:
        if isinstance(node.arg, nodes.Slice):
            raise Unsupported("slice")
        target, key, getitem = self.expr(node.node), self.expr(node.arg), self.env.getitem
        return lambda context: getitem(target(context), key(context))

    def _constant(self, node: nodes.Expr) -> bool:
        try:
            node.as_const(self.eval_context)
        except nodes.Impossible:
            return False
        return True

    def _List(self, node: nodes.List) -> Evaluator:
        items = [self.expr(item) for item in node.items]
        if self._constant(node):  # only as big as its source: nothing to check
            return lambda context: [item(context) for item in items]
        check = self.guards.value
        return lambda context: check([item(context) for item in items])

    def _Tuple(self, node: nodes.Tuple) -> Evaluator:
        if node.ctx != "load":
            raise Unsupported("store")
        items = [self.expr(item) for item in node.items]
        if self._constant(node):
            return lambda context: tuple(item(context) for item in items)
        check = self.guards.value
        return lambda context: check(tuple(item(context) for item in items))

    def _Dict(self, node: nodes.Dict) -> Evaluator:
        pairs = [(self.expr(pair.key), self.expr(pair.value)) for pair in node.items]
        if self._constant(node):
            return lambda context: {key(context): value(context) for key, value in pairs}
        check = self.guards.value
        return lambda context: check({key(context): value(context) for key, value in pairs})

    def _And(self, node: nodes.And) -> Evaluator:
        left, right = self.expr(node.left), self.expr(node.right)
        return lambda context: left(context) and right(context)

    def _Or(self, node: nodes.Or) -> Evaluator:
        left, right = self.expr(node.left), self.expr(node.right)
        return lambda context: left(context) or right(context)

    def _Not(self, node: nodes.Not) -> Evaluator:
        inner = self.expr(node.node)
        return lambda context: not inner(context)

    def _Neg(self, node: nodes.Neg) -> Evaluator:
        inner = self.expr(node.node)
        return lambda context: -inner(context)

    def _Pos(self, node: nodes.Pos) -> Evaluator:
        inner = self.expr(node.node)
        return lambda context: +inner(context)

    def _binary(self, node: nodes.BinExpr) -> Evaluator:
        left, right = self.expr(node.left), self.expr(node.right)
        if node.operator in self.env.intercepted_binops:
            # As Jinja's generated code does: the environment performs (and limits) them.
            direct = self.guards.binop(node.operator)
            if direct is not None:
                return lambda context: direct(left(context), right(context))
            call_binop, name = self.env.call_binop, node.operator
            return lambda context: call_binop(
                cast(JinjaContext, context), name, left(context), right(context)
            )
        op = _BINARY[type(node)]
        return lambda context: op(left(context), right(context))

    _Add = _Sub = _Mul = _Div = _FloorDiv = _Mod = _Pow = _binary

    def _Concat(self, node: nodes.Concat) -> Evaluator:
        parts = [self.expr(item) for item in node.nodes]
        check = self.guards.text
        return lambda context: check("".join(str(part(context)) for part in parts))

    def _Compare(self, node: nodes.Compare) -> Evaluator:
        first = self.expr(node.expr)
        steps = [(_COMPARE[o.op], self.expr(o.expr)) for o in node.ops]

        def compare(context: Context) -> Any:
            # Python's chained comparison: a < b < c is (a < b) and (b < c).
            left = first(context)
            result: Any = True
            for op, right_of in steps:
                right = right_of(context)
                result = op(left, right)
                if not result:
                    return result
                left = right
            return result

        return compare

    def _CondExpr(self, node: nodes.CondExpr) -> Evaluator:
        test, then = self.expr(node.test), self.expr(node.expr1)
        undefined = self.env.undefined
        otherwise = self.expr(node.expr2) if node.expr2 is not None else None

        def choose(context: Context) -> Any:
            if test(context):
                return then(context)
            if otherwise is None:
                return undefined(
                    "the inline if-expression evaluated to false and no else section was defined."
                )
            return otherwise(context)

        return choose

    def _plain(self, table: Mapping[str, Any], node: nodes._FilterTestCommon) -> Evaluator:
        func = table.get(node.name)
        if func is None:
            raise Unsupported(node.name)
        # Filters such as first, join or reverse take the environment or the evaluation
        # context first; both are fixed for our environment. Context-taking ones are left out.
        passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
        if passes == "environment":
            lead: tuple[Any, ...] = (self.env,)
        elif passes == "eval_context":
            lead = (self.eval_context,)
        elif passes is None:
            lead = ()
        else:
            raise Unsupported(node.name)
        if node.dyn_args is not None or node.dyn_kwargs is not None or node.node is None:
            raise Unsupported("dynamic arguments")
        value = self.expr(node.node)
        args = [self.expr(a) for a in node.args]
        # Filter and test keyword arguments are Keyword nodes (str keys); jinja types them as Pair.
        kwargs = [(str(k.key), self.expr(k.value)) for k in node.kwargs]
        return lambda context: func(
            *lead,
            value(context),
            *(a(context) for a in args),
            **{k: v(context) for k, v in kwargs},
        )

    def _Filter(self, node: nodes.Filter) -> Evaluator:
        return self._plain(self.env.filters, node)

    def _Test(self, node: nodes.Test) -> Evaluator:
        return self._plain(self.env.tests, node)

    def _Call(self, node: nodes.Call) -> Evaluator:
        # Only method calls (`contact.phone.startswith('+1')`): the method comes through the
        # sandbox's getattr, and is called only if the sandbox calls it safe.
        if not isinstance(node.node, nodes.Getattr) or node.node.attr in _FORMAT_METHODS:
            raise Unsupported("call")
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Unsupported("dynamic arguments")
        method = self.expr(node.node)
        args = [self.expr(a) for a in node.args]
        kwargs = [(k.key, self.expr(k.value)) for k in node.kwargs]
        is_safe = self.env.is_safe_callable
        guarded = self.guards.call

        def call(context: Context) -> Any:
            func = method(context)
            if not is_safe(func):
                raise SecurityError(f"{func!r} is not safely callable")
            return guarded(
                func, tuple([a(context) for a in args]), {k: v(context) for k, v in kwargs}
            )

        def call_bare(context: Context) -> Any:  # the usual `.split()`, `.upper()`
            func = method(context)
            if not is_safe(func):
                raise SecurityError(f"{func!r} is not safely callable")
            return guarded(func, (), {})

        return call if args or kwargs else call_bare

    # -- templates ---------------------------------------------------------------------------

    def template(self, tree: nodes.Template) -> Callable[[Context], str]:
        body = self._body(tree.body)
        check = self.guards.output

        def render(context: Context) -> str:
            out: list[str] = []
            body(context, out)
            return check("".join(out))

        return render

    def _body(self, statements: list[nodes.Node]) -> Callable[[Context, list[str]], None]:
        parts: list[Callable[[Context, list[str]], None]] = []
        for statement in statements:
            if isinstance(statement, nodes.Output):
                parts.extend(self._output(item) for item in statement.nodes)
            elif isinstance(statement, nodes.If):
                parts.append(self._if(statement))
            else:
                raise Unsupported(type(statement).__name__)

        def run(context: Context, out: list[str]) -> None:
            for part in parts:
                part(context, out)

        return run

    def _output(self, node: nodes.Node) -> Callable[[Context, list[str]], None]:
        if isinstance(node, nodes.TemplateData):
            data = node.data
            return lambda _, out: out.append(data)
        value = self.expr(node)
        return lambda context, out: out.append(str(value(context)))

    def _if(self, node: nodes.If) -> Callable[[Context, list[str]], None]:
        branches = [(self.expr(node.test), self._body(node.body))]
        branches += [(self.expr(e.test), self._body(e.body)) for e in node.elif_]
        otherwise = self._body(node.else_)

        def run(context: Context, out: list[str]) -> None:
            for test, body in branches:
                if test(context):
                    body(context, out)
                    return
            otherwise(context, out)

        return run
