"""Untrusted text (prompts, candidates, metadata, guidelines from imported files) made
safe to show: never parsed as Rich/Textual markup; escape sequences, control, bidi and
invisible format characters replaced by visible stand-ins. The table of those characters
is `rlhf_tui.terminal_text` (the CLI uses the same one).

Two ways to show a prompt or an answer, chosen per dataset (`markdown` setting):
- literally (the default), with fenced code blocks highlighted by `rich.syntax.Syntax`
  (which never interprets markup) on a background that shows, wrapped at spaces, every
  blank line in and around them kept;
- as a safe subset of Markdown (`safe_markdown.py`): emphasis, lists, headings, tables and
  code are rendered; links and images are shown as text with their address and title,
  link-reference definitions as the lines they are, raw HTML literally, and nothing is
  ever clickable.
In both, whatever follows a code fence's language name is shown above the code.
Guidelines go through Textual's Markdown widget after `neutralise()`, with links not
opened (see `widgets/guidelines_panel.py`).
"""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from rlhf_tui.terminal_text import neutralise

__all__ = [
    "CODE_BACKGROUND",
    "CODE_THEME",
    "PREVIEW_CHARS",
    "code_view",
    "lexer_for",
    "neutralise",
    "render_untrusted",
    "safe_text",
    "truncate",
]

_FENCE = re.compile(r"^```[ \t]*([^\n`]*)\n(.*?)(?:^```[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_LEXER_NAME = re.compile(r"^[A-Za-z0-9_+#.-]{1,24}$")

PREVIEW_CHARS = 20_000
CODE_THEME = "ansi_dark"
# Code blocks stand out from the text around them on a dark terminal (colour 236; the theme's own is 233).
CODE_BACKGROUND = "grey19"


def safe_text(text: str, style: str = "") -> Text:
    """A `Text` that shows `text` literally: `[bold]` stays `[bold]`, ESC shows as ␛."""
    return Text(neutralise(text), style=style, no_wrap=False, end="")


def truncate(text: str, limit: int | None) -> tuple[str, int]:
    """The first `limit` characters of `text` and how many were left out (0 when none)."""
    if limit is None or len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def lexer_for(info: str) -> str:
    """The lexer a fence's info string names, if it is a plain name; else "text"."""
    name = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    return name if _LEXER_NAME.match(name) else "text"


def code_view(code: str, info: str) -> RenderableType:
    """A fenced code block: highlighted by the lexer the info string names, on a background
    that shows, wrapped at spaces. Whatever the info string holds beyond a plain lexer name
    is shown above the code, never hidden."""
    info = info.strip()
    lexer = lexer_for(info)
    # word_wrap breaks a long line at spaces (a token longer than the card is folded, never cut off).
    syntax = Syntax(code, lexer, theme=CODE_THEME, word_wrap=True, background_color=CODE_BACKGROUND)
    if not info or info == lexer:
        return syntax
    return Group(Text(f"```{info}", style="italic"), syntax)


def _literal_parts(safe: str) -> list[RenderableType]:
    """Text and fenced code in order; every blank line of the text, around and inside the code, kept."""
    parts: list[RenderableType] = []
    position = 0
    for fence in _FENCE.finditer(safe):
        before = safe[position : fence.start()]
        if position:
            before = before.removeprefix("\n")  # the end of the closing fence's line
        if before:
            parts.append(Text(before.removesuffix("\n")))  # "" still shows: it is a blank line
        code = fence.group(2)
        parts.append(code_view(code.removesuffix("\n"), fence.group(1)))
        position = fence.end()
    after = safe[position:]
    if parts:
        after = after.removeprefix("\n")
    if after:
        parts.append(Text(after))
    return parts


def render_untrusted(
    text: str, limit: int | None = PREVIEW_CHARS, expand_key: str = "e", markdown: bool = False
) -> RenderableType:
    """The text shown literally with fenced code blocks highlighted (or, with `markdown`,
    as safe Markdown); at most `limit` characters are rendered, followed by a note of how
    much was left out and the key that shows it."""
    shown, left_out = truncate(text, limit)
    safe = neutralise(shown)
    if markdown:
        from rlhf_tui.app.safe_markdown import SafeMarkdown  # markdown-it is loaded only for datasets that ask for it

        parts: list[RenderableType] = [SafeMarkdown(safe)] if safe.strip() else []
    else:
        parts = _literal_parts(safe)
    if left_out:
        parts.append(
            Text(f"… {left_out:,} more characters — press {expand_key} to show everything", style="bold reverse")
        )
    if not parts:
        return Text("", end="")
    return parts[0] if len(parts) == 1 else Group(*parts)
