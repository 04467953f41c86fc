"""Decode Flatpeak's JSON strictly with mashumaro and name the field at fault."""

from __future__ import annotations

from dataclasses import is_dataclass
from datetime import datetime
from enum import Enum, StrEnum
from types import MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from mashumaro import field_options
from mashumaro.codecs import BasicDecoder
from mashumaro.dialect import Dialect
from mashumaro.exceptions import InvalidFieldValue, MissingField

from .errors import FlatpeakResponseError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mashumaro.dialect import SerializationStrategyValueType


# mashumaro generates the code that reads each `decodable` dataclass from JSON;
# `_Strict` stops it from coercing values ("1" is not 1, 1 is not true), and
# `parse` turns its exceptions into a FlatpeakResponseError that names the object
# and the field, e.g. "energy_cost.data[3].cost: 'value' must be a number".
# Where Flatpeak's JSON is not shaped like the public class, a private `_...JSON`
# class mirrors it; those are short-lived and not frozen (half the cost to build).


def only[T](kind: type[T]) -> Callable[[object], T]:
    """Return a check that lets only values of `kind` through, unconverted."""

    def check(value: object) -> T:
        if isinstance(value, kind):
            return value
        raise TypeError

    return check


_str = only(str)


def _int(value: object) -> int:
    # bool is an int subclass, but true is not a count.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError


def _float(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError
    parsed = datetime.fromisoformat(value)
    # A timestamp without an offset would be ambiguous; RFC 3339 requires one.
    if parsed.tzinfo is None:
        raise ValueError
    return parsed


class _Strict(Dialect):
    """Take JSON values only as the declared type, never converted."""

    serialization_strategy: Mapping[Any, SerializationStrategyValueType] = (
        MappingProxyType(
            {
                str: {"deserialize": _str},
                int: {"deserialize": _int},
                float: {"deserialize": _float},
                bool: {"deserialize": only(bool)},
                datetime: {"deserialize": _time},
            }
        )
    )


_DECODERS: dict[type, Callable[[Any], Any]] = {}


def decodable[C: type](cls: C) -> C:
    """Compile mashumaro's decoder of dataclass `cls` (class decorator)."""
    _DECODERS[cls] = BasicDecoder(cls, default_dialect=_Strict).decode
    return cls


def decoder[T](cls: type[T]) -> Callable[[object], T]:
    """Return the decoder of a `decodable` class; it raises mashumaro's errors."""
    return _DECODERS[cls]


class _ItemError(ValueError):
    """Element `index` of an array is not what was expected."""

    def __init__(self, index: int, item: object) -> None:
        super().__init__(index)
        self.index = index
        self.item = item


# What mashumaro and the field decoders raise on JSON of the wrong shape.
_ERRORS = (LookupError, ValueError, TypeError, AttributeError)


def array_of[T](
    decode: Callable[[object], T], *, null_is_empty: bool = False
) -> dict[str, Any]:
    """Field options: a JSON array decoded element by element into a tuple."""

    def deserialize(value: object) -> tuple[T, ...]:
        if value is None and null_is_empty:
            return ()
        if not isinstance(value, list):
            raise TypeError
        items: list[T] = []
        for index, item in enumerate(value):
            try:
                items.append(decode(item))
            except _ERRORS as err:
                raise _ItemError(index, item) from err
        return tuple(items)

    return field_options(deserialize=deserialize)


def str_map(value: object) -> dict[str, str]:
    """Return an object of strings; null is empty."""
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise TypeError


def or_default[E: StrEnum](default: E) -> dict[str, Any]:
    """Field options: an enum value where null means `default`."""
    enum = type(default)

    def deserialize(value: object) -> E:
        return default if value is None else enum(_str(value))

    return field_options(deserialize=deserialize)


_TIME = "an RFC 3339 timestamp with an offset"
_EXPECTED: dict[object, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    datetime: _TIME,
    list: "an array",
    tuple: "an array",
    dict: "an object",
}
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: bool is an int subclass
    ((int, float), "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


def _kind(value: object) -> str:
    """Name a JSON value's type for an error message."""
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return type(value).__name__


def _declared(field_type: Any) -> Any:
    """Return the class of a field type: `X` for `X | None`, `tuple` for tuples."""
    if get_origin(field_type) in (Union, UnionType):
        field_type = next(a for a in get_args(field_type) if a is not type(None))
    return get_origin(field_type) or field_type


def _expected(field_type: Any) -> str:
    """Describe the JSON a field of `field_type` must hold."""
    kind = _declared(field_type)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "one of " + ", ".join(member.value for member in kind)
    if kind is dict and get_args(field_type)[1:] == (str,):
        return "an object of strings"
    return _EXPECTED.get(kind, "valid")


def _describe(name: str, data: object, error: BaseException | None) -> str:
    """Follow mashumaro's chain of errors down to the field at fault."""
    path, value = name, data
    while error is not None:
        inner = error.__cause__ or error.__context__
        if isinstance(error, MissingField):
            return f"{path}: {error.field_name!r} is missing"
        if isinstance(error, _ItemError):
            path, value = f"{path}[{error.index}]", error.item
        elif isinstance(error, InvalidFieldValue):
            field_type = error.field_type
            # Descend into an object or an array of them; else this field is at fault.
            if not isinstance(
                inner, (MissingField, InvalidFieldValue, _ItemError)
            ) and not is_dataclass(_declared(field_type)):
                expected = _expected(field_type)
                return f"{path}: {error.field_name!r} must be {expected}"
            path, value = f"{path}.{error.field_name}", error.field_value
        elif not isinstance(value, dict):
            return f"{path}: expected an object, got {_kind(value)}"
        else:
            break  # not an error mashumaro raises for JSON of the wrong shape
        error = inner
    return f"{path}: not understood"


def parse[T](cls: type[T], data: object, name: str) -> T:
    """Decode `data` into `cls`, or raise a FlatpeakResponseError naming `name`."""
    decode = decoder(cls)
    try:
        return decode(data)
    except _ERRORS as err:
        # Not chained: mashumaro's errors quote the values, which may be secrets.
        raise FlatpeakResponseError(_describe(name, data, err)) from None
