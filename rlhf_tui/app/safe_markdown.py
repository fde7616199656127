"""A safe subset of Markdown for untrusted answers (datasets with `markdown = true`).

Rich's Markdown renders emphasis, lists, headings, tables and code from markdown-it
tokens, never from Rich markup. On top of it:
- raw HTML is parsed as text, so it is shown as written (Rich would drop it, hiding text);
- links are shown as `text (address)` and images as `[image: alt] (address)`, never
  clickable (no link style is ever set);
- every token's text is neutralised again after parsing, because entities such as
  `&#x202E;` or `&ZeroWidthSpace;` decode to characters the raw text did not contain;
- a code block's language must be a plain lexer name, like in literal mode;
- headings are left-aligned and code blocks have no padding, to fit narrow cards."""

from __future__ import annotations

from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Heading, Markdown, MarkdownElement
from rich.syntax import Syntax

from rlhf_tui.app.safe_text import CODE_THEME, lexer_for
from rlhf_tui.terminal_text import neutralise


def _parser() -> MarkdownIt:
    # html off: "<b>x</b>" and "<img …>" stay literal text instead of being dropped.
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


_PARSER = _parser()


def _image_as_text(image: Token) -> Token:
    """`![alt](address)` as the text `[image: alt] (address)`, inline where it stood."""
    alt = neutralise(image.content, one_line=True).strip() or "no description"
    source = neutralise(str(image.attrs.get("src", "")), one_line=True)
    text = Token("text", "", 0)
    text.content = f"[image: {alt}] ({source})" if source else f"[image: {alt}]"
    return text


def _make_safe(tokens: list[Token]) -> list[Token]:
    """Images become text; every text, code, info string and address is neutralised."""
    safe = []
    for token in tokens:
        if token.type == "image":
            safe.append(_image_as_text(token))
            continue
        token.content = neutralise(token.content)
        token.info = neutralise(token.info)
        for name in ("href", "title"):
            value = token.attrs.get(name)
            if isinstance(value, str):
                token.attrs[name] = neutralise(value, one_line=True)
        if token.children:
            token.children = _make_safe(token.children)
        safe.append(token)
    return safe


class SafeCodeBlock(CodeBlock):
    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
        return cls(lexer_for(token.info or ""), markdown.code_theme)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip("\n")
        yield Syntax(code, self.lexer_name, theme=self.theme, word_wrap=True, background_color="default")


class SafeHeading(Heading):
    LEVEL_ALIGN: ClassVar = dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "left")


class SafeMarkdown(Markdown):
    """Markdown from untrusted (already neutralised) text: see the module docstring."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "fence": SafeCodeBlock,
        "code_block": SafeCodeBlock,
        "heading_open": SafeHeading,
    }

    def __init__(self, text: str) -> None:
        super().__init__("", code_theme=CODE_THEME, hyperlinks=False)
        self.markup = text
        self.parsed = _make_safe(_PARSER.parse(text))
