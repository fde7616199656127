"""The record's prompt on the review screen: scrollable, a chat prompt turn by turn, all
of it untrusted text shown literally (`safe_text.render_untrusted`)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from rlhf_tui.app.safe_text import render_untrusted
from rlhf_tui.terminal_text import neutralise
from store.types import Record


def render_prompt(record: Record, limit: int | None, expand_key: str) -> RenderableType:
    prompt = record.prompt
    if isinstance(prompt, str):
        return render_untrusted(prompt, limit, expand_key)
    parts: list[RenderableType] = []
    budget = limit
    for message in prompt:
        parts.append(Text(f" {neutralise(message.role, one_line=True)} ", style="bold reverse", end=""))
        parts.append(render_untrusted(message.content, budget, expand_key))
        if budget is not None:
            budget = max(0, budget - len(message.content))
    return Group(*parts)


class PromptBox(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    PromptBox { height: auto; max-height: 30%; border: round $secondary; padding: 0 1; }
    PromptBox:focus { border: round $accent; }
    PromptBox > Static { width: 1fr; }
    """

    def compose(self):
        yield Static(id="prompt-text")

    def show(self, record: Record, limit: int | None, expand_key: str) -> None:
        self.border_title = Content("Prompt · ") + Content(neutralise(record.external_id, one_line=True))
        self.query_one("#prompt-text", Static).update(render_prompt(record, limit, expand_key))
        self.scroll_home(animate=False)

    def show_message(self, text: str) -> None:
        self.border_title = Content("Prompt")
        self.query_one("#prompt-text", Static).update(Text(text, end=""))
