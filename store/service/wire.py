"""The service's wire format: one JSON object per line, store dataclasses tagged by name.

Lists inside a dataclass come back as tuples (every sequence field in store.types is a tuple)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import PurePath
from typing import Any

from store import errors, types

_DATACLASSES = {
    cls.__name__: cls for cls in vars(types).values() if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}
_ERRORS = {
    cls.__name__: cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.StoreError)
}


def to_wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"__type__": type(value).__name__}
        for field in dataclasses.fields(value):
            out[field.name] = to_wire(getattr(value, field.name))
        return out
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any, inside_dataclass: bool = False) -> Any:
    if isinstance(value, dict):
        if "__datetime__" in value:
            return datetime.fromisoformat(value["__datetime__"])
        type_name = value.get("__type__")
        if type_name is not None:
            cls = _DATACLASSES.get(type_name)
            if cls is None:
                raise errors.StoreError(f"unknown value type {type_name!r} from the store service")
            fields = {k: from_wire(v, inside_dataclass=True) for k, v in value.items() if k != "__type__"}
            return cls(**fields)
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [from_wire(v, inside_dataclass) for v in value]
        return tuple(items) if inside_dataclass else items
    return value


def encode(message: dict) -> bytes:
    return json.dumps(to_wire(message), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict:
    return from_wire(json.loads(line))


def error_to_wire(exc: BaseException) -> dict:
    name = type(exc).__name__ if type(exc).__name__ in _ERRORS else "StoreError"
    return {"type": name, "message": str(exc)}


def error_from_wire(error: dict) -> errors.StoreError:
    return _ERRORS.get(str(error.get("type")), errors.StoreError)(error.get("message", "store service error"))
