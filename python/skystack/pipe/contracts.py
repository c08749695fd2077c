# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipeline contracts: checked expressions over task configs, never executed as Python.

A contract such as ``isr.do_bias == calibrate.check_bias and len(coadd.bands) >= 2`` is parsed
with `ast` and evaluated by a small whitelisting interpreter. Allowed: task labels as names,
attribute access (no private attributes), indexing, literals (numbers, strings, booleans,
None, tuples, lists), comparisons (including ``in`` and ``is``), ``and``/``or``/``not``,
arithmetic, and the functions ``len``, ``abs``, ``min``, ``max``. Anything else (calls to other
functions, lambdas, comprehensions, f-strings, ...) is rejected when the contract is parsed.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Contract", "ContractError", "ContractFailedError"]


class ContractError(ValueError):
    """A contract that cannot be parsed or evaluated (syntax, forbidden construct, unknown label)."""


class ContractFailedError(ContractError):
    """A contract that evaluated to false; the message shows the expression and the values."""


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"len": len, "abs": abs, "min": min, "max": max}
_MAX_EXPONENT = 1024


def _check(node: ast.AST, labels: Collection[str], text: str) -> set[str]:
    """Verify that ``node`` uses only allowed constructs; return the labels it names."""
    used: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in _FUNCTIONS):
                raise ContractError(
                    f"Contract {text!r}: only the functions {', '.join(_FUNCTIONS)} may be called"
                )
            if sub.keywords or any(isinstance(a, ast.Starred) for a in sub.args):
                raise ContractError(f"Contract {text!r}: {sub.func.id}() takes positional arguments only")
        elif isinstance(sub, ast.Name):
            if sub.id in _FUNCTIONS:
                continue
            if sub.id not in labels:
                raise ContractError(
                    f"Contract {text!r} names {sub.id!r}, which is not a task label; "
                    f"labels are: {', '.join(sorted(labels)) or '(none)'}"
                )
            used.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            if sub.attr.startswith("_"):
                raise ContractError(f"Contract {text!r}: private attribute {sub.attr!r} is not allowed")
        elif isinstance(sub, ast.BinOp):
            if type(sub.op) not in _BINOPS:
                raise ContractError(f"Contract {text!r}: operator {type(sub.op).__name__} is not allowed")
        elif isinstance(sub, ast.UnaryOp):
            if type(sub.op) not in _UNARY:
                raise ContractError(f"Contract {text!r}: operator {type(sub.op).__name__} is not allowed")
        elif not isinstance(
            sub,
            ast.Expression
            | ast.Compare
            | ast.BoolOp
            | ast.Constant
            | ast.Tuple
            | ast.List
            | ast.Subscript
            | ast.Load
            | ast.cmpop
            | ast.boolop
            | ast.operator
            | ast.unaryop,
        ):
            raise ContractError(
                f"Contract {text!r}: {type(sub).__name__} expressions are not allowed; use labels' "
                "config fields, literals, comparisons, and/or/not, arithmetic, len/abs/min/max"
            )
    return used


@dataclass(frozen=True)
class Contract:
    """One checked expression over the configs of a pipeline's tasks.

    Parameters
    ----------
    expression : `str`
        The expression, e.g. ``"isr.do_bias == calibrate.check_bias"``.
    msg : `str`, optional
        Explanation shown when the contract fails.
    """

    expression: str
    msg: str | None = None

    def parse(self, labels: Collection[str]) -> set[str]:
        """Check the expression against the allowed constructs and labels.

        Returns
        -------
        used : `set` [`str`]
            The labels the expression names.

        Raises
        ------
        ContractError
            On a syntax error, a forbidden construct or an unknown label.
        """
        return _check(self._tree(), labels, self.expression)

    def _tree(self) -> ast.Expression:
        try:
            return ast.parse(self.expression.strip(), mode="eval")
        except SyntaxError as err:
            raise ContractError(
                f"Contract {self.expression!r} is not a valid expression: {err.msg}"
            ) from None

    def labels(self) -> set[str]:
        """The names in the expression (task labels), without checking them."""
        return {n.id for n in ast.walk(self._tree()) if isinstance(n, ast.Name) and n.id not in _FUNCTIONS}

    def evaluate(self, configs: Mapping[str, Any]) -> bool:
        """Evaluate the contract over ``configs`` (label -> config).

        Raises
        ------
        ContractError
            If the expression is invalid or cannot be evaluated (e.g. an unknown field).
        ContractFailedError
            If it evaluates to false; the message shows the expression and each config value used.
        """
        tree = self._tree()
        _check(tree, configs.keys(), self.expression)
        values: dict[str, Any] = {}
        try:
            result = _Evaluator(configs, values).visit(tree.body)
        except ContractError:
            raise
        except Exception as err:
            raise ContractError(
                f"Contract {self.expression!r} could not be evaluated: {type(err).__name__}: {err}"
            ) from err
        if not result:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            extra = f" ({self.msg})" if self.msg else ""
            raise ContractFailedError(f"Contract {self.expression!r} failed{extra}: {shown}")
        return True


class _Evaluator:
    def __init__(self, configs: Mapping[str, Any], values: dict[str, Any]) -> None:
        self._configs = configs
        self._values = values

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._configs[node.id]
        if isinstance(node, ast.Attribute):
            value = getattr(self.visit(node.value), node.attr)
            self._values[ast.unparse(node)] = value
            return value
        if isinstance(node, ast.Subscript):
            value = self.visit(node.value)[self.visit(node.slice)]
            self._values[ast.unparse(node)] = value
            return value
        if isinstance(node, ast.Tuple):
            return tuple(self.visit(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for sub in node.values:
                    result = self.visit(sub)
                    if not result:
                        return result
                return result
            result = False
            for sub in node.values:
                result = self.visit(sub)
                if result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.visit(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if isinstance(node.op, ast.Pow) and isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise ContractError(f"Exponent {right} is too large in a contract")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.visit(comp)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            value = _FUNCTIONS[node.func.id](*(self.visit(a) for a in node.args))
            self._values[ast.unparse(node)] = value
            return value
        raise ContractError(f"{type(node).__name__} is not allowed in a contract")
