"""Untrusted text (prompts, candidates, metadata, guidelines from imported files) made
safe to show: never parsed as Rich/Textual markup, escape sequences and control
characters replaced by visible placeholders, bidi controls neutralised visibly.

Decision: prompts and candidates are *not* rendered as Markdown (Rich Markdown turns
`[x](url)` into clickable links and hides the source). They are shown literally, with
fenced code blocks highlighted by `rich.syntax.Syntax`, which never interprets markup.
Guidelines go through Textual's Markdown widget after `neutralise()`, with links not
opened (see `screens/guidelines.py`).
"""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

# C0 controls (except \t and \n) map to the U+2400 "control pictures" block: ESC → ␛.
_C0_PICTURES = {code: 0x2400 + code for code in range(0x20) if chr(code) not in "\t\n"}
_C0_PICTURES[0x7F] = 0x2421  # DEL → ␡
# C1 controls (U+0080–U+009F; U+009B is a one-byte CSI) have no pictures: show them as \x9b.
_C1_ESCAPES = {code: f"\\x{code:02x}" for code in range(0x80, 0xA0)}
# Bidi embeddings, overrides, isolates and marks (Trojan Source): show a visible tag instead.
_BIDI_NAMES = {
    0x202A: "LRE",
    0x202B: "RLE",
    0x202C: "PDF",
    0x202D: "LRO",
    0x202E: "RLO",
    0x2066: "LRI",
    0x2067: "RLI",
    0x2068: "FSI",
    0x2069: "PDI",
    0x200E: "LRM",
    0x200F: "RLM",
    0x061C: "ALM",
}
_BIDI_TAGS = {code: f"⟦{name}⟧" for code, name in _BIDI_NAMES.items()}
# Line and paragraph separators would break lines behind the renderer's back.
_SEPARATORS = {0x2028: "⟦LS⟧", 0x2029: "⟦PS⟧"}

_TRANSLATION: dict[int, int | str] = {**_C0_PICTURES, **_C1_ESCAPES, **_BIDI_TAGS, **_SEPARATORS}
_CRLF = re.compile(r"\r\n")
_FENCE = re.compile(r"^```[ \t]*([^\n`]*)\n(.*?)(?:^```[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_LEXER_NAME = re.compile(r"^[A-Za-z0-9_+#.-]{1,24}$")

PREVIEW_CHARS = 20_000
CODE_THEME = "ansi_dark"


def neutralise(text: str) -> str:
    """The text with every control, escape and bidi character replaced by a visible stand-in.

    Newlines and tabs stay; a Windows line ending becomes a plain newline (the lone CR
    that remains elsewhere is a control and is shown as ␍)."""
    return _CRLF.sub("\n", text).translate(_TRANSLATION)


def safe_text(text: str, style: str = "") -> Text:
    """A `Text` that shows `text` literally: `[bold]` stays `[bold]`, ESC shows as ␛."""
    return Text(neutralise(text), style=style, no_wrap=False, end="")


def truncate(text: str, limit: int | None) -> tuple[str, int]:
    """The first `limit` characters of `text` and how many were left out (0 when none)."""
    if limit is None or len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _lexer_for(info: str) -> str:
    name = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    return name if _LEXER_NAME.match(name) else "text"


def render_untrusted(text: str, limit: int | None = PREVIEW_CHARS, expand_key: str = "e") -> RenderableType:
    """Literal text with fenced code blocks highlighted; at most `limit` characters are
    rendered, followed by a note of how much was left out and the key that shows it."""
    shown, left_out = truncate(text, limit)
    safe = neutralise(shown)
    parts: list[RenderableType] = []
    position = 0
    for fence in _FENCE.finditer(safe):
        if fence.start() > position:
            parts.append(Text(safe[position : fence.start()].rstrip("\n")))
        code = fence.group(2).rstrip("\n")
        parts.append(
            Syntax(code, _lexer_for(fence.group(1)), theme=CODE_THEME, word_wrap=True, background_color="default")
        )
        position = fence.end()
    if position < len(safe):
        parts.append(Text(safe[position:].lstrip("\n") if parts else safe[position:]))
    if left_out:
        parts.append(
            Text(f"… {left_out:,} more characters — press {expand_key} to show everything", style="bold reverse")
        )
    if not parts:
        return Text("", end="")
    return parts[0] if len(parts) == 1 else Group(*parts)
