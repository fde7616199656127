"""What a dataset may be called: a name people can tell apart in a picker and type on a command line.

Checked wherever a name is given to a dataset (create, import into a new dataset, rename); names
already in a store stay usable, so an old store with an odd name can still be renamed."""

from __future__ import annotations

import unicodedata

from store.errors import InvalidInputError

MAX_DATASET_NAME_CHARS = 200  # the wire's bound on names

# Control, format (bidi, zero-width), line and paragraph separator characters: a name holding one
# looks like another name, or like nothing, in a picker or a table.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def dataset_name_problem(name: object) -> str | None:
    """Why `name` cannot name a dataset, as the end of a sentence, or None when it can."""
    if not isinstance(name, str):
        return f"must be text, not {type(name).__name__}"
    if not name:
        return "is empty"
    if not name.strip():
        return "is blank"
    if len(name) > MAX_DATASET_NAME_CHARS:
        return f"is longer than {MAX_DATASET_NAME_CHARS} characters"
    for i, char in enumerate(name, start=1):
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return f"holds an invisible or control character (U+{ord(char):04X}, character {i})"
    if name != name.strip():
        return "starts or ends with a space"
    return None


def check_dataset_name(name: object) -> str:
    """`name` if it can name a dataset, else a one-line error saying why."""
    problem = dataset_name_problem(name)
    if problem is not None:
        shown = ascii(name) if isinstance(name, str) else "the name"
        raise InvalidInputError(
            f"the dataset name {shown} {problem}; a dataset name is visible text, without spaces at either end"
        )
    assert isinstance(name, str)
    return name
