"""The prompt on top of the annotate screen: scrollable, collapsible, a chat prompt
shown turn by turn. All of it is untrusted text, rendered by `safe_text`.

A chat prompt always shows its last user turn (the question being answered): the turns
before it are one line each (in full once expanded), above it, and the box scrolls to it.
Collapsed, the box is one line (the start of that question), so the answers get the room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from rlhf_tui.app.safe_text import neutralise, render_untrusted
from store import ChatMessage, Record

COLLAPSED_HEIGHT = 3  # the border and one line


def last_user_turn(messages: Sequence[ChatMessage]) -> int:
    """Where the turn being answered starts: the last user turn (else the last turn)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    return max(0, len(messages) - 1)


def role_label(role: str) -> Text:
    """The role of a turn, on a line of its own."""
    return Text.assemble((f" {neutralise(role, one_line=True)} ", "bold reverse"))


def one_line(role: str, content: str) -> Text:
    """A turn as one line: its role and the start of its text (cut with an ellipsis)."""
    line = Text.assemble(
        (f" {neutralise(role, one_line=True)} ", "bold reverse"),
        " ",
        (" ".join(neutralise(content).split()) or "(empty)", "dim"),
        no_wrap=True,
        overflow="ellipsis",
        end="",
    )
    return line


def render_turns(
    messages: Sequence[ChatMessage], limit: int | None, expand_key: str, markdown: bool
) -> list[RenderableType]:
    turns: list[RenderableType] = []
    budget = limit
    for message in messages:
        turns.append(role_label(message.role))
        turns.append(render_untrusted(message.content, budget, expand_key, markdown))
        if budget is not None:
            budget = max(0, budget - len(message.content))
    return turns


@dataclass(frozen=True)
class PromptParts:
    """The earlier turns (None: a plain prompt, or a chat of one turn) and the rest."""

    earlier: RenderableType | None
    earlier_count: int
    body: RenderableType


def render_prompt(
    record: Record, limit: int | None, expand_key: str, markdown: bool = False, expanded: bool = False
) -> PromptParts:
    prompt = record.prompt
    if isinstance(prompt, str):
        return PromptParts(None, 0, render_untrusted(prompt, limit, expand_key, markdown))
    split = last_user_turn(prompt)
    earlier, rest = prompt[:split], prompt[split:]
    body = Group(*render_turns(rest, limit, expand_key, markdown))
    if not earlier:
        return PromptParts(None, 0, body)
    if expanded:
        shown: RenderableType = Group(*render_turns(earlier, limit, expand_key, markdown))
    else:
        # One Text of lines: one-line Texts (end="") in a Group would run into a single line.
        shown = Text("\n", no_wrap=True, overflow="ellipsis", end="").join(
            one_line(message.role, message.content) for message in earlier
        )
    return PromptParts(shown, len(earlier), body)


def collapsed_line(record: Record) -> Text:
    prompt = record.prompt
    if isinstance(prompt, str):
        return Text(" ".join(neutralise(prompt).split()), no_wrap=True, overflow="ellipsis", end="")
    message = prompt[last_user_turn(prompt)]
    return one_line(message.role, message.content)


class PromptView(VerticalScroll, can_focus=True):
    """The record's prompt; `collapsed` leaves one line so the answers get the room."""

    DEFAULT_CSS = """
    PromptView { height: auto; border: round $secondary; padding: 0 1; }
    PromptView:focus { border: round $accent; }
    PromptView.-collapsed { overflow-y: hidden; }
    PromptView > Static { width: 1fr; }
    PromptView > #prompt-earlier { display: none; }
    PromptView > #prompt-earlier.-one-line-each { text-wrap: nowrap; text-overflow: ellipsis; }
    PromptView.-collapsed > #prompt-body { text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, max_height_percent: int = 35, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_height_percent = max_height_percent
        self.record: Record | None = None
        self.limit: int | None = None
        self.expand_key = "e"
        self.markdown = False
        self.expanded = False
        self.toggle_key = "p"  # named in the collapsed box's subtitle

    def compose(self):
        yield Static(id="prompt-earlier")
        yield Static(id="prompt-body")

    def on_mount(self) -> None:
        self.styles.max_height = f"{self.max_height_percent}%"

    @property
    def collapsed(self) -> bool:
        return self.has_class("-collapsed")

    def show(
        self, record: Record, limit: int | None, expand_key: str = "e", markdown: bool = False, expanded: bool = False
    ) -> None:
        self.record, self.limit, self.expand_key, self.markdown, self.expanded = (
            record,
            limit,
            expand_key,
            markdown,
            expanded,
        )
        self.border_title = Content("Prompt · ") + Content(neutralise(record.external_id, one_line=True))
        self._render_record()

    def _render_record(self) -> None:
        record = self.record
        if record is None:
            return
        earlier = self.query_one("#prompt-earlier", Static)
        body = self.query_one("#prompt-body", Static)
        if self.collapsed:
            self._show_earlier(earlier, None)
            body.update(collapsed_line(record))
            self.border_subtitle = self._collapsed_subtitle()
            self.scroll_home(animate=False)
            return
        parts = render_prompt(record, self.limit, self.expand_key, self.markdown, self.expanded)
        earlier.set_class(not self.expanded, "-one-line-each")
        self._show_earlier(earlier, parts.earlier)
        body.update(parts.body)
        if parts.earlier is None:
            self.border_subtitle = None
            self.scroll_home(animate=False)
        else:
            turns = f"{parts.earlier_count} earlier turn{'s' if parts.earlier_count != 1 else ''}"
            hint = "" if self.expanded else f" · {self.expand_key}: in full"
            self.border_subtitle = Content(f"↑ {turns}{hint}")
            self.call_after_refresh(self._scroll_to_last_turn)

    @staticmethod
    def _show_earlier(earlier: Static, content: RenderableType | None) -> None:
        if content is None:
            if earlier.display:
                earlier.display = False
            return
        earlier.display = True
        earlier.update(content)

    def _scroll_to_last_turn(self) -> None:
        """The turn being answered at the top of the box (or as far as the box scrolls)."""
        if self.collapsed:  # collapsed since this was asked for: the one line stays at the top
            return
        body = self.query_one("#prompt-body", Static)
        self.scroll_to(y=body.virtual_region.y, animate=False, immediate=True)

    def show_message(self, text: str) -> None:
        self.record = None
        self.border_title = Content("Prompt")
        self.border_subtitle = None
        self._show_earlier(self.query_one("#prompt-earlier", Static), None)
        self.query_one("#prompt-body", Static).update(Text(text, end=""))

    def _collapsed_subtitle(self) -> Content:
        return Content(f"collapsed · {self.toggle_key}: show")

    def toggle_collapsed(self) -> bool:
        self.toggle_class("-collapsed")
        collapsed = self.collapsed
        self.styles.max_height = COLLAPSED_HEIGHT if collapsed else f"{self.max_height_percent}%"
        if self.record is not None:
            self._render_record()
        else:
            self.border_subtitle = self._collapsed_subtitle() if collapsed else None
        return collapsed
