"""The machinery of the typed messages: wire keys beside readable field names, decode, encode.

A message is a frozen, slotted, keyword-only dataclass deriving from :class:`WireMessage`.
Each field names its wire key with :func:`key` (``first_update_id: int = key("U")``); the
field's type says what the wire must hold there:

* ``int``, ``str``, ``bool``: exactly that JSON type (a price is a ``str``: the venue's
  decimal strings are kept as they came, so they encode back byte-identical);
* ``int | str``: either (``listenKeyExpired.E``);
* another :class:`WireMessage`, or ``tuple[Message, ...]``: a nested object or a list of them;
* ``tuple[str, ...]``; ``tuple[tuple[str, str], ...]`` (book levels, ``[price, size]``);
* ``Any``: kept as it came;
* ``X | None`` with the default ``None``: the key may be absent (and is left out again).

Keys the class does not name land in ``extra`` and are written back, so a newer payload
(``markPriceUpdate`` with ``ap``) round-trips unchanged. A wrong type or a missing key raises
:class:`~streamsim.errors.DataError` naming the class and the key's path (``o.X``).

Request parameter sets (:attr:`WireMessage.QUERY`) travel as query strings: their values
are strings on the wire, ``int`` fields are read from canonical decimal digits only (so that
they write back as the same characters).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from streamsim.errors import DataError

#: Reads one wire value (raising :class:`FieldError`) / writes one back.
Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]


class FieldError(Exception):
    """A value that breaks its field's type, with the key path down to it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason


def key(wire: str, *, codec: tuple[Reader, Writer] | None = None) -> Any:
    """A required field stored under ``wire`` (optionally read/written by ``codec``)."""
    return dataclasses.field(metadata={"wire": wire, "codec": codec})


def optional(wire: str, *, codec: tuple[Reader, Writer] | None = None) -> Any:
    """A field stored under ``wire`` that may be absent (``None`` when it is)."""
    return dataclasses.field(default=None, metadata={"wire": wire, "codec": codec})


def extra_keys() -> Any:
    """The ``extra`` field: wire keys the class does not name, kept for the round trip."""
    return dataclasses.field(default_factory=dict, metadata={"extra": True})


_T = typing.TypeVar("_T")


@typing.dataclass_transform(kw_only_default=True, frozen_default=True)
def message(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a frozen, slotted, keyword-only dataclass (the form of every message).

    Type checkers see every field as having a default (they cannot tell :func:`key` from
    :func:`optional`); a missing required field fails at construction."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


_M = typing.TypeVar("_M", bound="WireMessage")


class WireMessage:
    """Base of every typed message: :meth:`from_wire` and :meth:`to_wire`."""

    __slots__ = ()
    #: True for request parameter sets: values are query-string strings.
    QUERY: ClassVar[bool] = False
    #: The ``e`` a stream event of this class must carry (None: not an event).
    EVENT: ClassVar[str | None] = None

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """The message held by a decoded JSON object (or a query's parameters)."""
        try:
            return typing.cast(Self, _plan(cls).read(data))
        except FieldError as exc:
            where = f" field {exc.path!r}" if exc.path else ""
            raise DataError(f"{cls.__name__}{where}: {exc.reason}") from None

    def to_wire(self) -> dict[str, Any]:
        """The wire object: named keys in declaration order, then the extra keys."""
        return _plan(type(self)).write(self)


def read_as(cls: type[_M], data: Any) -> _M:
    """``cls`` read from ``data`` inside a codec: a bad value raises :class:`FieldError`
    (with its path), for the enclosing message to name."""
    return typing.cast(_M, _plan(cls).read(data))


# -- plans --------------------------------------------------------------------------------


class _Plan:
    """How one class reads and writes: per field its key, reader and writer."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        query = bool(getattr(cls, "QUERY", False))
        self.event: str | None = getattr(cls, "EVENT", None)
        #: per field: name, wire key, required, the exact JSON type when that is the whole
        #: check (read inline, the common case), else None and the reader does it
        self.readers: list[tuple[str, str, bool, type | None, Reader]] = []
        self.writers: list[tuple[str, str, Writer]] = []
        self.known: set[str] = set()
        self.has_extra = False
        for f in dataclasses.fields(cls):
            if f.metadata.get("extra"):
                self.has_extra = True
                continue
            wire = f.metadata["wire"]
            codec = f.metadata.get("codec")
            hint = hints[f.name]
            required = f.default is dataclasses.MISSING
            if not required:
                hint = _strip_none(hint)
            reader, writer = codec or _converters(hint, query)
            exact = (
                hint if codec is None and hint in _EXACT and not (query and hint is int) else None
            )
            self.readers.append((f.name, wire, required, exact, reader))
            self.writers.append((f.name, wire, writer))
            self.known.add(wire)

    def read(self, data: Any) -> object:
        if not isinstance(data, Mapping):
            raise FieldError("", f"expected an object, got {_shown(data)}")
        if self.event is not None and data.get("e") != self.event:
            raise FieldError("e", f"expected {self.event!r}, got {_shown(data.get('e'))}")
        # built field by field, as the frozen dataclass's __init__ would, without its kwargs
        message: object = object.__new__(self.cls)
        for name, wire, required, exact, reader in self.readers:
            value = data.get(wire, _MISSING)
            if value is _MISSING or (value is None and not required):
                if required:
                    raise FieldError(wire, "missing")
                _set(message, name, None)
                continue
            if exact is not None:
                if type(value) is not exact:
                    raise FieldError(wire, f"expected {_EXACT[exact]}, got {_shown(value)}")
            else:
                try:
                    value = reader(value)
                except FieldError as exc:
                    raise FieldError(_join(wire, exc.path), exc.reason) from None
            _set(message, name, value)
        if self.has_extra:
            # a null in an optional field is kept as an extra key, so it writes back too
            extra = {k: v for k, v in data.items() if k not in self.known or v is None}
            _set(message, "extra", extra)
        return message

    def write(self, message: object) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, wire, writer in self.writers:
            value = getattr(message, name)
            if value is not None:
                out[wire] = writer(value)
        if self.has_extra:
            out.update(getattr(message, "extra"))  # noqa: B009 - slots, no static attribute
        return out


_MISSING = object()
_set = object.__setattr__
#: JSON types checked inline, with their names for errors.
_EXACT: dict[Any, str] = {int: "an integer", str: "a string", bool: "a boolean"}
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


def _join(outer: str, inner: str) -> str:
    return f"{outer}.{inner}" if inner else outer


def _strip_none(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if _is_union(hint) and len(args) < len(typing.get_args(hint)):
        return args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
    return hint


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


# -- converters ---------------------------------------------------------------------------


def _same(value: Any) -> Any:
    return value


def _exact(kind: type, name: str) -> Reader:
    def read(value: Any) -> Any:
        if type(value) is not kind:
            raise FieldError("", f"expected {name}, got {_shown(value)}")
        return value

    return read


def _query_int(value: Any) -> int:
    if type(value) is not str:
        raise FieldError("", f"expected an integer string, got {_shown(value)}")
    try:
        number = int(value)
    except ValueError:
        raise FieldError("", f"not an integer: {value!r}") from None
    if str(number) != value:
        raise FieldError("", f"not a canonical integer: {value!r}")
    return number


def _int_or_str(value: Any) -> Any:
    if type(value) is not int and type(value) is not str:
        raise FieldError("", f"expected an integer or a string, got {_shown(value)}")
    return value


def _level(value: Any) -> tuple[str, str]:
    if type(value) is not list or len(value) != 2:
        raise FieldError("", f"a level is not a [price, size] pair: {_shown(value)}")
    price, size = value
    if type(price) is not str or type(size) is not str:
        raise FieldError("", f"a level holds a non-string: {_shown(value)}")
    return price, size


def _levels(value: Any) -> tuple[tuple[str, str], ...]:
    """Book levels; one pass over well-formed ones, a level-by-level check otherwise (for
    the error naming the bad level)."""
    if type(value) is list:
        try:
            levels = tuple([(price, size) for price, size in value])
        except (TypeError, ValueError):
            pass
        else:
            if all(
                type(level) is list and type(level[0]) is str and type(level[1]) is str
                for level in value
            ):
                return levels
    return typing.cast(tuple[tuple[str, str], ...], _tuple_of(_level)(value))


def _tuple_of(item: Reader) -> Reader:
    def read(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise FieldError("", f"expected a list, got {_shown(value)}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except FieldError as exc:
                raise FieldError(_join(str(i), exc.path), exc.reason) from None
        return tuple(out)

    return read


def _list_of(item: Writer) -> Writer:
    return lambda values: [item(v) for v in values]


def _converters(hint: Any, query: bool) -> tuple[Reader, Writer]:
    """Reader and writer for a field of type ``hint``."""
    if hint is Any:
        return _same, _same
    if hint is int:
        return (_query_int, str) if query else (_exact(int, "an integer"), _same)
    if hint is str:
        return _exact(str, "a string"), _same
    if hint is bool:
        return _exact(bool, "a boolean"), _same
    if _is_union(hint) and set(typing.get_args(hint)) == {int, str}:
        return _int_or_str, _same
    if isinstance(hint, type) and issubclass(hint, WireMessage):
        nested = _plan(hint)
        return nested.read, nested.write
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] == tuple[str, str]:
                return _levels, _list_of(list)
            item_read, item_write = _converters(args[0], query)
            return _tuple_of(item_read), _list_of(item_write)
    raise TypeError(f"no wire converter for the type {hint!r}")
