"""The prompt on top of the annotate screen: scrollable, collapsible, a chat prompt
shown turn by turn. All of it is untrusted text, rendered by `safe_text`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from store import Record

from ..safe_text import neutralise, render_untrusted


def render_prompt(record: Record, limit: int | None, expand_key: str) -> RenderableType:
    prompt = record.prompt
    if isinstance(prompt, str):
        return render_untrusted(prompt, limit, expand_key)
    turns: list[RenderableType] = []
    budget = limit
    for message in prompt:
        turns.append(Text(f" {neutralise(message.role)} ", style="bold reverse"))
        turns.append(render_untrusted(message.content, budget, expand_key))
        if budget is not None:
            budget = max(0, budget - len(message.content))
    return Group(*turns)


class PromptView(VerticalScroll, can_focus=True):
    """The record's prompt; `collapsed` leaves one line so the answers get the room."""

    DEFAULT_CSS = """
    PromptView { height: auto; border: round $secondary; padding: 0 1; }
    PromptView:focus { border: round $accent; }
    PromptView.-collapsed { max-height: 3; overflow-y: hidden; }
    PromptView > Static { width: 1fr; }
    """

    def compose(self):
        yield Static(id="prompt-body")

    def show(self, record: Record, limit: int | None, expand_key: str = "e") -> None:
        self.border_title = Content("Prompt · ") + Content(neutralise(record.external_id))
        self.query_one("#prompt-body", Static).update(render_prompt(record, limit, expand_key))
        self.scroll_home(animate=False)

    def show_message(self, text: str) -> None:
        self.border_title = Content("Prompt")
        self.query_one("#prompt-body", Static).update(Text(text, end=""))

    def toggle_collapsed(self) -> bool:
        self.toggle_class("-collapsed")
        collapsed = self.has_class("-collapsed")
        self.border_subtitle = Content("collapsed") if collapsed else None
        return collapsed
