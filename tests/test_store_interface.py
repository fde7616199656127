"""The store's operations are written in three places on purpose — the typed interface
(`store.api.PreferenceStore`), its two implementations (in-process and over the socket), and the wire's
table of bounded parameters (`store.service.operations`), which is a security boundary kept apart from
the Python signatures. These tests fail the moment the copies disagree."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from store.api import PreferenceStore
from store.embedded import DuckDBStore
from store.service.client import ServiceClient
from store.service.operations import OPERATIONS
from store.types import AnnotationInput, ExportOptions, ReviewInput

# On the wire only: files cross the socket as streams of these, which the client turns into
# `import_file` and `export`.
WIRE_ONLY = {"upload_begin", "upload_chunk", "import_upload", "export_begin", "transfer_read", "transfer_close"}
# In the interface only, each for a reason: the connection itself (who is calling comes with the
# service's hello), files as streams (above), and reads the client builds from other operations.
INTERFACE_ONLY = {
    "caller": "the service's hello names the caller",
    "watch_connection": "a property of the connection, not a request",
    "close": "closes the connection",
    "import_file": "upload_begin, upload_chunk, import_upload",
    "export": "export_begin, transfer_read, transfer_close",
    "get_record": "get_records of one id",
    "preference_rows": "export_rows of the preference format",
}
# Parameters that the wire spells out field by field.
SPELLED_OUT = {
    "save_annotation": ("answer", AnnotationInput),
    "save_review": ("review", ReviewInput),
    "export_rows": ("options", ExportOptions),
}
# Fields the service fills in from the connection, never from the request.
FROM_THE_CALLER = {"save_review": {"reviewer"}}
# Fields a request may leave out where the Python value must be given: the wire's default is passed on.
WIRE_DEFAULTS = {("save_review", "ranks"): ()}
INTERNAL = {"now", "seed"}  # the in-process store's clock and shuffle seed, for tests; never on the wire


def interface_methods() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(value)
        for name, value in vars(PreferenceStore).items()
        if callable(value) and not name.startswith("_")
    }


def test_every_operation_is_in_the_interface_and_every_method_on_the_wire_or_named_why_not():
    methods = set(interface_methods())
    assert set(OPERATIONS) - methods == WIRE_ONLY
    assert methods - set(OPERATIONS) == set(INTERFACE_ONLY)


@pytest.mark.parametrize("name", sorted(set(OPERATIONS) & set(interface_methods())))
def test_the_wire_takes_the_parameters_of_the_interface(name):
    signature = interface_methods()[name]
    params = {k: v for k, v in signature.parameters.items() if k != "self"}
    expected = {k: v.default is inspect.Parameter.empty for k, v in params.items()}
    if name in SPELLED_OUT:
        argument, kind = SPELLED_OUT[name]
        del expected[argument]
        fields = {f.name: f for f in dataclasses.fields(kind)}
        expected |= {
            field_name: (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
            for field_name, f in fields.items()
            if field_name not in FROM_THE_CALLER.get(name, set())
        }
        params |= {
            field_name: inspect.Parameter(field_name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
            for field_name, f in fields.items()
            if f.default is not dataclasses.MISSING
        }
        for (operation_name, field_name), default in WIRE_DEFAULTS.items():
            if operation_name == name:
                expected[field_name] = False
                assert OPERATIONS[name].by_name[field_name].default == default
    operation = OPERATIONS[name]
    assert {p.name: p.required for p in operation.params} == expected
    for param in operation.params:
        if param.required or name in {"save_annotation", "save_review"}:
            continue
        default = params[param.name].default
        if operation.paged and param.name == "limit":
            assert default is None and param.default > 0  # all rows in-process; the client asks page by page
        else:
            assert param.default == default or (param.default is None and default == ()), param.name


@pytest.mark.parametrize("implementation", [DuckDBStore, ServiceClient])
def test_both_stores_implement_the_interface_with_its_signatures(implementation):
    for name, signature in interface_methods().items():
        theirs = inspect.signature(getattr(implementation, name))
        extra = [p for p in theirs.parameters.values() if p.name in INTERNAL]
        assert all(p.default is None for p in extra), f"{implementation.__name__}.{name}: internal without default"
        kept = [p for p in theirs.parameters.values() if p.name not in INTERNAL]
        ours = [(p.name, p.default, p.kind) for p in signature.parameters.values()]
        assert [(p.name, p.default, p.kind) for p in kept] == ours, f"{implementation.__name__}.{name}"
