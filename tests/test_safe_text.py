"""Untrusted text is shown literally: no markup, no escape sequences, no bidi tricks."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from rlhf_tui.app.safe_text import neutralise, render_untrusted, safe_text


def rendered(renderable, width: int = 120) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system="truecolor")
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    "markup",
    [
        "[bold]loud[/bold]",
        "[link=https://evil.example]click me[/link]",
        "[@click=app.quit]bye[/]",
        "[red on white]x[/]",
        "\\[escaped]",
    ],
)
def test_markup_is_shown_as_written(markup):
    assert rendered(render_untrusted(f"before {markup} after")).strip() == f"before {markup} after"
    text = safe_text(markup)
    assert text.plain == markup and not text.spans


def test_ansi_and_osc_sequences_become_visible_placeholders():
    hostile = "\x1b[31mred\x1b[0m \x1b]8;;https://evil\x07link\x1b]8;;\x07 \x1b[2J\x9b31m"
    safe = neutralise(hostile)
    assert "\x1b" not in safe and "\x07" not in safe and "\x9b" not in safe
    assert safe == "␛[31mred␛[0m ␛]8;;https://evil␇link␛]8;;␇ ␛[2J\\x9b31m"
    assert "\x1b" not in rendered(render_untrusted(hostile))


def test_other_controls_are_replaced_but_newlines_and_tabs_stay():
    assert neutralise("a\x00b\x08c\rd\x7fe\tf\ng") == "a␀b␈c␍d␡e\tf\ng"
    assert neutralise("line one\r\nline two") == "line one\nline two"


@pytest.mark.parametrize(
    "char,tag",
    [
        ("\u202e", "RLO"),
        ("\u202d", "LRO"),
        ("\u2066", "LRI"),
        ("\u2069", "PDI"),
        ("\u200e", "LRM"),
        ("\u200f", "RLM"),
        ("\u202a", "LRE"),
    ],
)
def test_bidi_controls_are_neutralised_visibly(char, tag):
    assert neutralise(f"abc{char}def") == f"abc⟦{tag}⟧def"


def test_code_blocks_are_highlighted_and_stay_literal():
    source = "Try this:\n```python\nprint('[bold]x[/bold]')\n```\nDone."
    renderable = render_untrusted(source)
    assert any(isinstance(part, Syntax) for part in renderable.renderables)
    text = rendered(renderable)
    assert "print('[bold]x[/bold]')" in text and "Try this:" in text and "Done." in text
    assert "```" not in text


def test_an_untrusted_fence_language_cannot_reach_the_lexer():
    assert render_untrusted("```python title=x\nx = 1\n```").lexer.name == "Python"
    for info in ("python; rm -rf /", "$(evil)", "../../etc/passwd"):
        assert render_untrusted(f"```{info}\nx = 1\n```").lexer.name == "Text only"


def test_long_text_is_cut_with_a_note_naming_the_key():
    renderable = render_untrusted("x" * 50_000, limit=20_000, expand_key="e")
    body, note = renderable.renderables
    assert isinstance(body, Text) and len(body.plain) == 20_000
    assert "30,000 more characters" in note.plain and "press e" in note.plain
    assert isinstance(render_untrusted("x" * 50_000, limit=None), Text)
