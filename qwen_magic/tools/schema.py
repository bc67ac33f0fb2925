"""A Python function as a tool: its JSON schema from the signature, the type hints and the
docstring, and its call with the model's JSON arguments turned back into the hinted types.

A model writes JSON, so a parameter must be something JSON can say: str, int, float, bool,
None, a Literal or an Enum, lists, tuples, sets and dicts of those, dataclasses, TypedDicts and
pydantic models. Anything else is refused before any request, naming the parameter.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import datetime
import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.tools.docstrings import parse_docstring

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
MARK = "__qwen_tool__"

_SIMPLE: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
_ARRAYS = (list, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet,
           abc.Iterable, abc.Collection)  # fmt: skip
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)
_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)


@dataclass(frozen=True)
class ToolOptions:
    """What ``@tool(...)`` said about a function."""

    name: str | None = None
    description: str | None = None
    confirm: bool = False
    thread_safe: bool = False


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    confirm: bool = False,
    thread_safe: bool = False,
) -> Any:
    """Mark a function as a tool for ``%%qwen --tools`` (optional: any function will do).

    ``@tool`` or ``@tool(description=…, confirm=True, thread_safe=True)``. ``confirm``: ask
    before each call (Run/Skip buttons; refused in headless runs unless ``--yes``).
    ``thread_safe``: parallel calls of such tools may run at the same time (on threads).
    The function is returned unchanged, still an ordinary function.
    """
    options = ToolOptions(name, description, confirm, thread_safe)

    def mark(target: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(target):
            raise QwenUsageError(f"@tool marks a function; {target!r:.60} is not callable.")
        try:
            setattr(getattr(target, "__func__", target), MARK, options)
        except (AttributeError, TypeError):  # a builtin: wrap it to carry the mark
            wrapper = functools.wraps(target)(functools.partial(target))
            setattr(wrapper, MARK, options)
            return wrapper
        return target

    return mark(func) if func is not None else mark


@dataclass
class Tool:
    """A callable the model may call, with the schema it is shown."""

    function: Callable[..., Any] = field(repr=False)
    name: str
    description: str
    parameters: dict[str, Any]
    confirm: bool = False
    thread_safe: bool = False
    hints: dict[str, Any] = field(default_factory=dict, repr=False)
    positional: tuple[str, ...] = field(default=(), repr=False)  # positional-only parameters

    def schema(self) -> dict[str, Any]:
        """The chat-shape function tool (each provider sends it in its API's form)."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    def call(self, arguments: dict[str, Any]) -> Any:
        """Call the function with the model's arguments, converted to the hinted types."""
        converted = {k: coerce(v, self.hints.get(k, Any)) for k, v in arguments.items()}
        args = [converted.pop(name) for name in self.positional if name in converted]
        return self.function(*args, **converted)


def tool_of(obj: Any) -> Tool:
    """``obj`` (a function, a method, a partial, a callable object or a Tool) as a Tool, or a
    UsageError saying which parameter cannot be sent as JSON."""
    if isinstance(obj, Tool):
        return obj
    if not callable(obj):
        raise QwenUsageError(
            f"--tools takes functions; {_shown(obj)} is a {type(obj).__name__}, not callable."
        )
    options: ToolOptions = getattr(obj, MARK, None) or ToolOptions()
    name = options.name or getattr(obj, "__name__", None) or type(obj).__name__
    if not NAME.fullmatch(name):
        raise QwenUsageError(
            f"The tool name {name!r} is not one a model can call (letters, digits, _ and -, at "
            "most 64): define it with def, or name it with @qwen_magic.tool(name='...')."
        )
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        raise QwenUsageError(
            f"Could not read the parameters of the tool {name!r}: give a Python function "
            "(def or a method) instead."
        ) from None
    hints = _hints(obj, name)
    target = _unwrapped(obj)
    if inspect.iscoroutinefunction(target):
        raise QwenUsageError(
            f"The tool {name!r} is an async function, which --tools does not await yet: give "
            "a plain function (def) that does the work, e.g. with asyncio.run(...) inside."
        )
    summary, documented = parse_docstring(inspect.getdoc(target) or "")
    description = options.description if options.description is not None else summary
    properties: dict[str, Any] = {}
    required: list[str] = []
    positional: list[str] = []
    defs: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # a model sends named arguments only; **kwargs takes what it likes
        hint = hints.get(param.name, param.annotation)
        if hint is inspect.Parameter.empty:
            hint = Any
        where = f"the tool {name!r}: its parameter {param.name!r}"
        prop = schema_of(hint, where, defs)
        if param.name in documented and "description" not in prop:
            prop = {**prop, "description": documented[param.name]}
        if param.default is not inspect.Parameter.empty and _jsonable(param.default):
            prop = {**prop, "default": _default(param.default)}
        properties[param.name] = prop
        kept[param.name] = hint
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(param.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    if defs:
        parameters["$defs"] = defs
    return Tool(obj, name, description, parameters, options.confirm, options.thread_safe,
                kept, tuple(positional))  # fmt: skip


def _unwrapped(obj: Any) -> Any:
    while isinstance(obj, functools.partial):
        obj = obj.func
    plain = inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)
    if not plain and not inspect.isbuiltin(obj):
        return type(obj).__call__  # a callable object: its __call__'s hints and doc
    return obj


def _hints(obj: Any, name: str) -> dict[str, Any]:
    target = _unwrapped(obj)
    if inspect.isclass(target):
        target = target.__init__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # a forward reference to a name that is not defined
        raise QwenUsageError(
            f"Could not read the type hints of the tool {name!r} ({type(exc).__name__}: {exc}): "
            "define the types it names before using it, or drop the hint."
        ) from None


def schema_of(hint: Any, where: str, defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of a type hint (``defs`` collects pydantic models' ``$defs``)."""
    defs = {} if defs is None else defs
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return {}
    if hint is None or hint is type(None):
        return {"type": "null"}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint in (list, tuple, set, frozenset):
        return {"type": "array"}
    if hint is dict:
        return {"type": "object"}
    if hint is datetime.datetime:
        return {"type": "string", "format": "date-time"}
    if hint is datetime.date:
        return {"type": "string", "format": "date"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        schema = schema_of(args[0], where, defs)
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**schema, "description": " ".join(notes)} if notes else schema
    if origin is typing.Literal:
        return _enum(list(args), where)
    if origin in _UNIONS:
        return _union(args, where, defs)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_of(args[0], where, defs)}
        items = [schema_of(a, where, defs) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items),
                "maxItems": len(items)}  # fmt: skip
    if origin in _ARRAYS:
        schema = {"type": "array"}
        if args:
            schema["items"] = schema_of(args[0], where, defs)
        if origin in (set, frozenset, abc.Set, abc.MutableSet):
            schema["uniqueItems"] = True
        return schema
    if origin in _MAPPINGS:
        if args and args[0] not in (str, Any) and typing.get_origin(args[0]) is not typing.Literal:
            raise _refused(where, hint, "JSON object keys are text: use dict[str, ...]")
        schema = {"type": "object"}
        if args:
            schema["additionalProperties"] = schema_of(args[1], where, defs)
        return schema
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum([member.value for member in hint], where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _object(hint, where, defs)
    if typing.is_typeddict(hint):
        return _object(hint, where, defs)
    if isinstance(hint, type) and callable(getattr(hint, "model_json_schema", None)):
        try:
            schema = dict(getattr(hint, "model_json_schema")())  # noqa: B009 - pydantic
        except Exception as exc:  # e.g. a model that refers to one not defined yet
            raise _refused(where, hint, f"its schema could not be made ({exc})") from None
        defs.update(schema.pop("$defs", {}))
        return schema
    raise _refused(where, hint)


def _enum(values: list[Any], where: str) -> dict[str, Any]:
    kinds = {_json_type(v) for v in values}
    if None in kinds:
        raise _refused(where, values, "its values must be text, numbers, true/false or None")
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), **schema}
    return schema


def _union(args: tuple[Any, ...], where: str, defs: dict[str, Any]) -> dict[str, Any]:
    options = [a for a in args if a is not type(None)]
    nullable = len(options) < len(args)
    if len(options) == 1:
        schema = schema_of(options[0], where, defs)
    else:
        schema = {"anyOf": [schema_of(a, where, defs) for a in options]}
    if not nullable:
        return schema
    kind = schema.get("type")
    if isinstance(kind, str) and set(schema) <= {"type", "items", "format", "description"}:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _object(hint: type, where: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A dataclass or a TypedDict as a JSON object (attributes documented in its docstring)."""
    hints = typing.get_type_hints(hint, include_extras=True)
    _, documented = parse_docstring(inspect.getdoc(hint) or "")
    if dataclasses.is_dataclass(hint):
        fields = [f for f in dataclasses.fields(hint) if f.init]
        names = [f.name for f in fields]
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
    else:
        names = list(hints)
        required = [n for n in names if n in getattr(hint, "__required_keys__", names)]
    properties = {}
    for name in names:
        prop = schema_of(hints.get(name, Any), f"{where} (field {name!r})", defs)
        if name in documented and "description" not in prop:
            prop = {**prop, "description": documented[name]}
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _jsonable(value: Any) -> bool:
    if value is None or _json_type(value) is not None:
        return True
    return isinstance(value, enum.Enum) and _json_type(value.value) is not None


def _default(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _refused(where: str, hint: Any, why: str = "") -> QwenUsageError:
    shown = getattr(hint, "__name__", None) or repr(hint)
    reason = why or "a model writes JSON and cannot send one"
    return QwenUsageError(
        f"{where.capitalize()} is typed {shown}: {reason}. Use str, int, float, bool, a Literal "
        "or Enum, a list or dict of those, a dataclass or a pydantic model; for a DataFrame or "
        "another object, take its name (a str) and look it up inside the function."
    )


def _shown(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:59] + "…"


# ------------------------------------------------------------------ arguments -> Python values
def coerce(value: Any, hint: Any) -> Any:
    """The model's JSON value as the hinted type: dataclasses, pydantic models, Enums, tuples,
    sets, dates. Anything that does not fit is passed as it is (the function decides)."""
    if hint is Any or value is None:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return coerce(value, args[0])
    if origin in _UNIONS:
        options = [a for a in args if a is not type(None)]
        return coerce(value, options[0]) if len(options) == 1 else value
    if isinstance(value, list):
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(coerce(v, args[0]) for v in value)
            return tuple(coerce(v, a) for v, a in zip(value, args, strict=False))
        items = [coerce(v, args[0]) for v in value] if args else list(value)
        if hint in (set, frozenset) or origin in (set, frozenset, abc.Set, abc.MutableSet):
            return frozenset(items) if frozenset in (hint, origin) else set(items)
        return tuple(items) if hint is tuple else items
    if isinstance(value, dict):
        if origin in _MAPPINGS and args:
            return {k: coerce(v, args[1]) for k, v in value.items()}
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            hints = typing.get_type_hints(hint)
            return hint(**{k: coerce(v, hints.get(k, Any)) for k, v in value.items()})
        if isinstance(hint, type) and callable(getattr(hint, "model_validate", None)):
            return getattr(hint, "model_validate")(value)  # noqa: B009 - pydantic
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (datetime.datetime, datetime.date) and isinstance(value, str):
        return hint.fromisoformat(value)
    return value
