"""Reads the IR text form back into a Graph: parse(str(g)) == g."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Any

import sympy

from .dtypes import BY_NAME
from .graph import _SHORT, Atom, Eqn, Graph, Literal, SourceLoc, TensorType, Var, freeze_attrs
from .symdims import parse_guard, parse_size

_LONG = {short: BY_NAME[name] for name, short in _SHORT.items()}
_HEADER = re.compile(r"^graph\s+(\w+)\((.*)\)\s*\{$")
_TYPE = re.compile(r"^(\w+)\[([\w,\s*+\-()/]*)\]$")
_LOC = re.compile(r"^(.*?):(\d+)(?:: (.*))?$")


class IRParseError(ValueError):
    pass


@lru_cache(maxsize=1)
def _sympy_locals() -> dict[str, Any]:
    syms: dict[str, Any] = {f"x{i}": sympy.Symbol(f"x{i}", real=True) for i in range(256)}
    syms["out"] = sympy.Symbol("out", real=True)
    return syms


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def parse_type(text: str) -> TensorType:
    m = _TYPE.match(text.strip())
    if not m or m.group(1) not in _LONG:
        raise IRParseError(f"bad type {text!r}: expected like f32[3,4] or bool[]")
    try:
        dims = tuple(parse_size(d) for d in _split_top(m.group(2)) if d.strip())
    except ValueError:
        raise IRParseError(f"bad type {text!r}: a size must be an int or like s0, 784*s0") from None
    return TensorType(dims, _LONG[m.group(1)])


_NONFINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def _number(text: str) -> Any:
    """A Python literal, or one of the words repr() gives non-finite floats."""
    if text in _NONFINITE:
        return _NONFINITE[text]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if text.startswith("(") and text.endswith(")"):  # a shape with symbolic sizes
            return tuple(_number(p) for p in _split_top(text[1:-1]))
        return parse_size(text)  # a symbolic size or a value made from one (1/s0)


def _attr_value(key: str, text: str) -> Any:
    if text in _LONG:
        return _LONG[text]
    if text.startswith('"') and key == "expr":
        return sympy.sympify(text[1:-1], locals=_sympy_locals())
    try:
        return _number(text)
    except (ValueError, SyntaxError):
        raise IRParseError(f"bad attribute value {key}={text}") from None


def parse(text: str) -> Graph:
    """Parse the text form printed by `str(graph)`."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        raise IRParseError("empty IR text")
    m = _HEADER.match(lines[0].strip())
    if not m:
        raise IRParseError(f"line 1: expected 'graph NAME(%arg: type, ...) {{', got {lines[0]!r}")
    env: dict[str, Var] = {}
    inputs = []
    for p in _split_top(m.group(2)):
        name, _, ty = p.partition(":")
        v = Var(parse_type(ty), name.strip().lstrip("%"))
        env[v.hint] = v
        inputs.append(v)

    def atom(tok: str, lineno: int) -> Atom:
        tok = tok.strip()
        if tok.startswith("%"):
            if tok[1:] not in env:
                raise IRParseError(f"line {lineno}: {tok} is used before it is defined")
            return env[tok[1:]]
        value, _, ty = tok.rpartition(":")
        if ty not in _LONG:
            raise IRParseError(f"line {lineno}: bad operand {tok!r}")
        try:
            return Literal(_number(value), _LONG[ty])
        except (ValueError, SyntaxError):
            raise IRParseError(f"line {lineno}: bad literal {tok!r}") from None

    eqns: list[Eqn] = []
    guards: list[Any] = []
    outputs: list[Atom] | None = None
    closed = False
    for lineno, raw in enumerate(lines[1:], start=2):
        body, _, comment = raw.partition("#")
        body = body.strip()
        if body == "}":
            closed = True
            if lineno != len(lines):
                raise IRParseError(f"line {lineno + 1}: text after the closing '}}'")
            break
        if outputs is not None:
            raise IRParseError(f"line {lineno}: nothing may follow 'return' but '}}'")
        if body.startswith("return"):
            outputs = [atom(t, lineno) for t in _split_top(body[len("return"):])]
            continue
        if body.startswith("guard "):  # a condition on the sizes the graph was traced under
            try:
                guards.append(parse_guard(body[len("guard "):]))
            except ValueError as err:
                raise IRParseError(f"line {lineno}: {err}") from None
            continue
        lhs, eq, rhs = body.partition(" = ")
        if not eq:
            raise IRParseError(f"line {lineno}: expected '%out: type = op args', got {raw.strip()!r}")
        outs = []
        for o in _split_top(lhs):
            name, _, ty = o.partition(":")
            outs.append(Var(parse_type(ty), name.strip().lstrip("%")))
        op_text, args_text = _split_op(rhs)
        op, attrs = op_text, {}
        if "[" in op_text:
            op, attr_text = op_text[:-1].split("[", 1)
            for kv in _split_top(attr_text):
                k, _, v = kv.partition("=")
                attrs[k.strip()] = _attr_value(k.strip(), v.strip())
        ins = tuple(atom(t, lineno) for t in _split_top(args_text))
        loc = None
        if comment.strip():
            lm = _LOC.match(comment.strip())
            if lm:
                loc = SourceLoc(lm.group(1), int(lm.group(2)), lm.group(3) or "")
        eqns.append(Eqn(op, ins, tuple(outs), freeze_attrs(attrs), loc))
        for o in outs:
            env[o.hint] = o
    if outputs is None:
        raise IRParseError(f"graph {m.group(1)} has no 'return' line (truncated file?)")
    if not closed:
        raise IRParseError(f"graph {m.group(1)} is not closed with '}}' (truncated file?)")
    return Graph(m.group(1), inputs, eqns, outputs, {"guards": tuple(guards)} if guards else {})


def _split_op(rhs: str) -> tuple[str, str]:
    """'sum[dims=(0, 1), keepdim=False] %x' -> ('sum[...]', '%x')."""
    depth = 0
    for i, ch in enumerate(rhs):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == " " and depth == 0:
            return rhs[:i], rhs[i + 1 :]
    return rhs, ""
