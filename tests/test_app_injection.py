"""Hostile prompts, answers and guidelines on screen: markup shown as written, escape
sequences and bidi controls as visible placeholders, nothing clickable."""

from __future__ import annotations

import io

from app_support import build_store, make_app, settle
from rich.console import Console

from rlhf_tui.app.widgets import CandidateGrid, GuidelinesPanel, PromptView

HOSTILE = (
    "[bold]B[/bold] [link=https://evil.example]L[/link] [@click=app.quit]Q[/] "
    "\x1b[2J\x1b]8;;https://evil.example\x07osc\x1b]8;;\x07 \x9b31m \u202eevil\u202c"
)
SHOWN = (
    "[bold]B[/bold] [link=https://evil.example]L[/link] [@click=app.quit]Q[/] "
    "␛[2J␛]8;;https://evil.example␇osc␛]8;;␇ \\x9b31m ⟦RLO⟧evil⟦PDF⟧"
)


def plain(renderable) -> str:
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(renderable)
    return " ".join(console.export_text().split())


def screen_position(app, needle: str) -> tuple[int, int]:
    """(column, row) where `needle` first shows on the screen."""
    for row, strip in enumerate(app.screen._compositor.render_strips()):
        column = strip.text.find(needle)
        if column >= 0:
            return column, row
    raise AssertionError(f"{needle!r} is not on the screen")


async def test_hostile_text_is_rendered_literally_everywhere(tmp_path):
    rows = [
        {"id": "evil\x1b[31m", "prompt": [{"role": "user\x1b[5m", "content": HOSTILE}], "responses": [HOSTILE, "fine"]}
    ]
    store = build_store(tmp_path, "rank", rows, guidelines=f"# Rules\n\n{HOSTILE}\n\n[x](https://evil.example)")
    app = make_app(store)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        prompt = app.screen.query_one(PromptView)
        assert SHOWN in plain(prompt.query_one("#prompt-body").content)
        assert "user␛[5m" in plain(prompt.query_one("#prompt-body").content)
        assert str(prompt.border_title) == "Prompt · evil␛[31m"
        cards = app.screen.query_one(CandidateGrid).cards
        bodies = [plain(card.query_one(".candidate-body").content) for card in cards]
        assert any(SHOWN in body for body in bodies)
        await pilot.press("g")
        await settle(pilot)
        markdown = app.screen.query_one(GuidelinesPanel).query_one("Markdown")
        assert "\x1b" not in markdown.source and "␛[2J" in markdown.source
        assert markdown._open_links is False
        svg = app.export_screenshot()
        assert "[@click=app.quit]Q[/]" in svg.replace("&#160;", " ")
        assert "\x1b" not in svg
        column, row = screen_position(app, "[@click=app.quit]Q[/]")
        q_cell = (column + len("[@click=app.quit]"), row)
        widget, _ = app.screen.get_widget_at(*q_cell)
        assert prompt in widget.ancestors_with_self  # the click below lands on the prompt's "Q"
        await pilot.click(offset=q_cell)  # clicking the would-be link must not run its action (quit)
        await settle(pilot)
        assert app.is_running
    store.close()


MARKDOWN_ANSWER = (
    "Use **bold** and `code \x1b[2J [b]x[/b]`; see [the docs](https://evil.example/docs) "
    "and ![diagram](https://evil.example/d.png) <b>html</b>"
)


async def test_markdown_is_a_dataset_setting_and_links_never_open(tmp_path):
    for markdown in (True, False):  # a dataset that asks for Markdown, then one that does not
        await check_markdown_setting(tmp_path / str(markdown), markdown)


async def check_markdown_setting(tmp_path, markdown: bool) -> None:
    tmp_path.mkdir()
    rows = [{"id": "md", "prompt": "Explain *this*", "responses": [MARKDOWN_ANSWER, "plain"]}]
    store = build_store(tmp_path, "rank", rows)
    if markdown:
        store.update_dataset("d", settings={"markdown": True})
    app = make_app(store)
    opened: list[str] = []
    app.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        card = next(c for c in app.screen.query_one(CandidateGrid).cards if c.text_length == len(MARKDOWN_ANSWER))
        body = plain(card.query_one(".candidate-body").content)
        if markdown:
            assert "Use bold and code ␛[2J [b]x[/b];" in body
            assert "the docs (https://evil.example/docs)" in body
            assert "[image: diagram] (https://evil.example/d.png)" in body
            assert "<b>html</b>" in body
            assert "Explain this" in plain(app.screen.query_one("#prompt-body").content)
        else:
            assert "Use **bold** and `code ␛[2J [b]x[/b]`; see [the docs](https://evil.example/docs)" in body
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        column, row = screen_position(app, "docs")
        await pilot.click(offset=(column + 1, row))  # on the link text (or its address): nothing opens
        await settle(pilot)
        assert opened == [] and app.is_running
    store.close()
