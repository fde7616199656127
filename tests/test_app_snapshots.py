"""Screenshots at 80×24 and 200×60 in rank and pair mode, at 80×24 and 120×40 in rate
and thumbs mode (frozen clock, fixed annotator).
Update them with `pytest --snapshot-update` after a deliberate change."""

from __future__ import annotations

import pytest
from app_support import (
    AXES,
    arithmetic_rows,
    build_store,
    chat_rows,
    make_app,
    pair_rows,
    press,
    settle,
    two_annotators_answered,
)

ROWS = {
    "rank": [
        *arithmetic_rows(3, candidates=4),
        {
            "id": "code",
            "prompt": "Write `add` in Python.",
            "responses": [
                "```python\ndef add(a, b):\n    return a + b\n```",
                "add = lambda a, b: a + b",
                "Use the + operator.",
            ],
        },
    ],
    "pair": pair_rows(3),
}


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
@pytest.mark.parametrize("task", ["rank", "pair"])
def test_annotate_screen(snap_compare, tmp_path, task, size):
    store = build_store(tmp_path, task, ROWS[task])
    keys = ["2", "t", "4"] if task == "rank" else []

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, *keys)

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=size, run_before=ready)
    finally:
        store.close()


def test_guidelines_panel_open(snap_compare, tmp_path):
    store = build_store(tmp_path, "rank", ROWS["rank"])

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, "g")

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=(120, 30), run_before=ready)
    finally:
        store.close()


def test_admin_screen(snap_compare, tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(5, candidates=3), annotators_per_record=2)
    two_annotators_answered(store)

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, "A")
        screen = pilot.app.screen
        for _ in range(200):  # the agreement worker posts its figures
            if screen.figures is not None and not screen.computing:
                return
            await pilot.pause(0.05)
            await settle(pilot)
        raise AssertionError("the agreement figures never came")

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=(120, 50), run_before=ready)
    finally:
        store.close()


@pytest.mark.parametrize("keys", [[], ["p"]], ids=["prompt-open", "prompt-collapsed"])
def test_long_chat_with_short_and_long_answers_at_80x24(snap_compare, tmp_path, keys):
    """The last user turn shows (earlier turns one line each above it); short answers get
    small cards, the long one the room; `p` leaves the prompt one line."""
    store = build_store(tmp_path, "rank", chat_rows())

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        await pilot.pause()

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=(80, 24), run_before=ready)
    finally:
        store.close()


HOSTILE_MARKDOWN = (
    "## Steps\n\n1. **Boil** the water\n2. Add *salt*: `NaCl \x1b[2J [b]x[/b]`\n\n"
    "See [the guide](https://evil.example/guide) ![chart](https://evil.example/c.png) <b>raw</b>\n\n"
    "| grams | minutes |\n|---|---|\n| 10 | 6 |\n\n```python\nboil(minutes=6)\n```"
)


@pytest.mark.parametrize("markdown", [True, False], ids=["markdown", "literal"])
def test_hostile_markdown_at_80x24(snap_compare, tmp_path, markdown):
    rows = [{"id": "md", "prompt": "How do I **boil** pasta?", "responses": [HOSTILE_MARKDOWN, "Just boil it."]}]
    store = build_store(tmp_path, "rank", rows)
    if markdown:
        store.update_dataset("d", settings={"markdown": True})
    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=(80, 24), run_before=settle)
    finally:
        store.close()


def test_end_of_queue_at_80x24(snap_compare, tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(1, candidates=2))

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, "1", "enter")
        pilot.app.screen.tick()  # the status tick re-reads the progress: here, not whenever a slow run's timer fires
        await settle(pilot)
        await pilot.pause()

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=(80, 24), run_before=ready)
    finally:
        store.close()


RATE_ROWS = [
    {
        "id": "rate-01",
        "prompt": "How do I reverse a list in Python?",
        "responses": [
            "Use slicing: `items[::-1]` returns a new reversed list; `items.reverse()` reverses in place.",
            "Call `reversed(items)`. It gives you the list backwards.",
            "Loop from the end and append each item to a new list.",
        ],
    }
]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("task", ["rate", "thumbs"])
def test_rate_and_thumbs_screens(snap_compare, tmp_path, task, size):
    """Rate: two candidates rated (one in part), the highlight on the next cell, a written
    answer as its own card; thumbs: two of three given."""
    settings = {"axes": AXES, "written_answers": True} if task == "rate" else None
    store = build_store(tmp_path, task, RATE_ROWS, settings=settings)
    keys = ["7", "6", "6", "4"] if task == "rate" else ["y", "n"]

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, *keys)
        if task == "rate":
            await press(pilot, "w")
            await pilot.press(*" Or use a deque.")
            await press(pilot, "ctrl+s")
        await pilot.pause()

    try:
        assert snap_compare(make_app(store, annotator="snapshot"), terminal_size=size, run_before=ready)
    finally:
        store.close()
