"""Names and column names from imported files reach the terminal as visible text: no escape
sequence, hyperlink, 8-bit CSI, bidi override or zero-width character gets through, and
Rich markup in them is shown literally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rank_rows

from store import AnnotationInput
from store.connect import open_store

# A colour change, an OSC 8 hyperlink, an 8-bit CSI, a right-to-left override, a zero-width
# space, and Rich markup (a colour and a link).
HOSTILE = (
    "\x1b[31mred\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x9b31m \u202egnp.exe \u200bzw [red]x [link=http://x]y"
)
DATASET = "ds " + HOSTILE
RAW_CONTROLS = ("\x1b", "\x9b", "\u202e", "\u200b")


def rlhf_tui(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    """The real console script's output to a pipe, wide enough that no cell wraps."""
    env = {**os.environ, "RLHF_TUI_STORE": str(store), "COLUMNS": "600", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rlhf_tui.cli", *args], capture_output=True, text=True, encoding="utf-8", env=env
    )


def assert_shown_safely(result: subprocess.CompletedProcess[str]) -> str:
    for name, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        leaked = [repr(c) for c in RAW_CONTROLS if c in stream]
        assert not leaked, f"{name} carries {', '.join(leaked)}: {stream!r}"
    both = result.stdout + result.stderr
    for visible in (
        "␛[31mred",
        "␛]8;;http://x␛\\link",
        "\\x9b31m",
        "⟦RLO⟧gnp.exe",
        "⟦ZWSP⟧zw",
        "[red]x",
        "[link=http://x]y",
    ):
        assert visible in both, f"{visible!r} not shown in {both!r}"
    return both


@pytest.fixture
def hostile_store(jsonl, store_path) -> Path:
    """A rank dataset with a hostile name, answered differently by two hostile annotators.
    New names are checked (no control characters), so the names are written as a store made
    before that check would hold them."""
    with open_store(store_path) as s:
        s.import_file(jsonl(rank_rows(2, k=3)), dataset="hostile", annotators_per_record=2)
        for record in s.get_records(s.record_ids("hostile")):
            s.save_annotation(AnnotationInput(record.id, "ann " + HOSTILE, "submitted", (1, 2, 3)))
            s.save_annotation(AnnotationInput(record.id, "bob " + HOSTILE, "submitted", (3, 2, 1)))
        s.import_file(jsonl(rank_rows(1), "other.jsonl"), dataset="other")
        for old, new in (("hostile", DATASET), ("other", "two\nlines")):
            s.connection.execute("UPDATE datasets SET name = ? WHERE name = ?", [new, old]).fetchall()
    return store_path


def test_datasets_lists_a_hostile_name_visibly(hostile_store):
    result = rlhf_tui("datasets", store=hostile_store)
    assert result.returncode == 0
    assert_shown_safely(result)


def test_stats_shows_hostile_dataset_and_annotator_names_visibly(hostile_store):
    result = rlhf_tui("stats", "--dataset", DATASET, store=hostile_store)
    assert result.returncode == 0
    assert_shown_safely(result)
    title = next(line for line in result.stdout.splitlines() if "Answers in" in line)
    assert "Answers in ds ␛[31mred" in title and "[red]x [link=http://x]y" in title  # not read as markup
    assert "ann ␛[31mred" in result.stdout and "bob ␛[31mred" in result.stdout


def test_stats_agreement_shows_hostile_annotator_names_visibly(hostile_store):
    result = rlhf_tui("stats", "--dataset", DATASET, "--agreement", store=hostile_store)
    assert result.returncode == 0
    assert_shown_safely(result)
    disputed = result.stdout[result.stdout.index("Most disputed records") :]
    assert "ann ␛[31mred" in disputed and "bob ␛[31mred" in disputed


def test_unknown_dataset_error_lists_hostile_names_visibly(hostile_store):
    result = rlhf_tui("stats", "--dataset", "nope", store=hostile_store)
    assert result.returncode == 1 and result.stderr.startswith("error: no dataset named 'nope'")
    assert result.stderr.strip().count("\n") == 0 and "two␊lines" in result.stderr
    assert_shown_safely(result)


def test_import_error_names_hostile_columns_visibly(jsonl, store_path):
    bad = jsonl([{"col " + HOSTILE: "v", "other": 1}], "columns.jsonl")
    assert "\\u001b" in bad.read_text()  # the escapes are JSON-encoded in the file, decoded on import
    result = rlhf_tui("import", str(bad), "--dataset", "d", store=store_path)
    assert result.returncode == 1 and "cannot tell the format from the columns" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert_shown_safely(result)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1bb\x7fc\x00d\re", "a␛b␡c␀d␍e"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("windows\r\nline", "windows\nline"),
        ("\x9b\x85\x80\x9f", "\\x9b\\x85\\x80\\x9f"),
        ("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c", None),
        ("line\u2028para\u2029", "line⟦LS⟧para⟦PS⟧"),
        ("z\u200bz\u200cz\u200dz\u2060z\ufeffz\u00adz\u180ez", "z⟦ZWSP⟧z⟦ZWNJ⟧z⟦ZWJ⟧z⟦WJ⟧z⟦BOM⟧z⟦SHY⟧z⟦MVS⟧z"),
        ("\u2061\u2062\u2063\u2064", "⟦FA⟧⟦IT⟧⟦IS⟧⟦IP⟧"),
        ("\u3164\u115f\u1160\uffa0", "⟦HF⟧⟦HCF⟧⟦HJF⟧⟦HWHF⟧"),  # Hangul fillers: a name that looks blank
        ("lone \ud800 surrogate", "lone ⟦U+D800⟧ surrogate"),
        ("tag\U000e0041\U000e007f", "tag⟦U+E0041⟧⟦U+E007F⟧"),  # other category-Cf characters
        ("plain ascii, ünïcödé, 日本語, emoji 😀 [red]x", "plain ascii, ünïcödé, 日本語, emoji 😀 [red]x"),
    ],
)
def test_neutralise_replaces_every_invisible_or_control_character(raw, shown):
    import unicodedata

    from rlhf_tui.terminal_text import neutralise

    result = neutralise(raw)
    if shown is not None:
        assert result == shown
    assert all(
        unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
        for c in result.replace("\t", "").replace("\n", "")
    )


def test_neutralise_tags_bidi_controls_by_name():
    from rlhf_tui.terminal_text import neutralise

    assert neutralise("\u202eabc\u202c") == "⟦RLO⟧abc⟦PDF⟧"
    assert neutralise("\u2067x\u2069") == "⟦RLI⟧x⟦PDI⟧"


def test_one_line_shows_newlines():
    from rlhf_tui.terminal_text import neutralise, plain

    assert neutralise("a\nb\r\nc\td", one_line=True) == "a␊b␊c\td"
    assert plain("a\nb", one_line=True).plain == "a␊b"


def test_plain_is_never_markup():
    from rlhf_tui.terminal_text import plain

    text = plain("[red]x[/red] [link=http://x]y\x1b")
    assert text.plain == "[red]x[/red] [link=http://x]y␛" and not text.spans


def test_terminal_text_does_not_import_textual():
    script = "import sys, rlhf_tui.terminal_text; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_neutralise_leaves_no_control_format_or_separator_character_anywhere_in_unicode():
    import unicodedata

    from rlhf_tui.terminal_text import neutralise

    hidden = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    every = "".join(chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in hidden and chr(c) not in "\t\n")
    left = {f"U+{ord(c):04X}" for c in neutralise(every) if unicodedata.category(c) in hidden}
    assert not left
