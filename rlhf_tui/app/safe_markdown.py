"""A safe subset of Markdown for untrusted answers (datasets with `markdown = true`).

Rich's Markdown renders emphasis, lists, headings, tables and code from markdown-it
tokens, never from Rich markup. On top of it:
- raw HTML is parsed as text, so it is shown as written (Rich would drop it, hiding text);
- links are shown as `text (address "title")` and images as `[image: alt] (address "title")`,
  never clickable (no link style is ever set); a link-reference definition (`[x]: address
  "title"`) is not read as one, so its whole line is shown as written;
- every token's text is neutralised again after parsing, because entities such as
  `&#x202E;` or `&ZeroWidthSpace;` decode to characters the raw text did not contain;
- a code block's language must be a plain lexer name, like in literal mode, and anything
  after it on the fence line is shown above the code;
- headings are left-aligned and code blocks have no padding, to fit narrow cards."""

from __future__ import annotations

from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Heading, Markdown, MarkdownElement

from rlhf_tui.app.safe_text import CODE_THEME, code_view, lexer_for
from rlhf_tui.terminal_text import neutralise


def _parser() -> MarkdownIt:
    # html off: "<b>x</b>" and "<img …>" stay literal text instead of being dropped. Without the
    # "reference" rule a definition line stays in the text instead of vanishing into a link.
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table").disable("reference")


_PARSER = _parser()


def _image_as_text(image: Token) -> Token:
    """`![alt](address)` as the text `[image: alt] (address)`, inline where it stood."""
    alt = neutralise(image.content, one_line=True).strip() or "no description"
    address = _address(str(image.attrs.get("src", "")), image.attrs.get("title"))
    text = Token("text", "", 0)
    text.content = f"[image: {alt}] ({address})" if address else f"[image: {alt}]"
    return text


def _address(href: str, title: object) -> str:
    """A link's address with its title, if it has one: `https://x "title"` (neutralised)."""
    address = neutralise(href, one_line=True)
    if isinstance(title, str) and title:
        address = f'{address} "{neutralise(title, one_line=True)}"'.strip()
    return address


def _make_safe(tokens: list[Token]) -> list[Token]:
    """Images become text; every text, code, info string and address is neutralised."""
    safe = []
    for token in tokens:
        if token.type == "image":
            safe.append(_image_as_text(token))
            continue
        token.content = neutralise(token.content)
        token.info = neutralise(token.info)
        if token.type == "link_open":
            # Rich shows the href after the link's text; the title goes with it, so nothing is hidden.
            token.attrs["href"] = _address(str(token.attrs.get("href", "")), token.attrs.pop("title", None))
        if token.children:
            token.children = _make_safe(token.children)
        safe.append(token)
    return safe


class SafeCodeBlock(CodeBlock):
    def __init__(self, lexer_name: str, theme: str, info: str = "") -> None:
        super().__init__(lexer_name, theme)
        self.info = info

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
        return cls(lexer_for(token.info or ""), markdown.code_theme, token.info or "")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield code_view(str(self.text).removesuffix("\n"), self.info)


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
