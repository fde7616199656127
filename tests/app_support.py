"""Helpers for the annotation app tests: a store built from JSONL rows, an app with a
frozen clock, and `settle`, which waits for the store worker and the messages it posted
(instead of sleeping)."""

from __future__ import annotations

import json
from pathlib import Path

from rlhf_tui.app.app import AnnotationApp
from rlhf_tui.app.config import AppConfig
from store import AnnotationInput
from store.connect import open_store

ANNOTATOR = "tester"
GUIDELINES = "# How to rank\n\nPrefer **correct** answers.\n\n- shorter is better when equal"


def arithmetic_rows(count: int, candidates: int = 3) -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "prompt": f"Question {i}: what is {i} + {i}?",
            "responses": [f"Answer {i}.{j}: {i + i + j}" for j in range(candidates)],
        }
        for i in range(count)
    ]


def pair_rows(count: int) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "prompt": [{"role": "user", "content": f"Pair question {i}?"}],
            "responses": [f"First answer {i}", f"Second answer {i}"],
        }
        for i in range(count)
    ]


def build_store(
    tmp_path: Path,
    task: str = "rank",
    rows: list[dict] | None = None,
    name: str = "d",
    guidelines: str = GUIDELINES,
    annotators_per_record: int = 1,
    store=None,
    settings: dict | None = None,
):
    """A store at tmp_path/store.duckdb holding one dataset made of `rows` (rate, thumbs:
    rank rows), with dataset `settings` (rate: axes) if given."""
    rows = rows if rows is not None else (pair_rows(4) if task == "pair" else arithmetic_rows(4))
    source = tmp_path / f"{name}.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    store = store or open_store(tmp_path / "store.duckdb")
    store.create_dataset(name, task, guidelines, annotators_per_record, settings=settings)
    store.import_file(source, dataset=name, task=task)
    return store


AXES = [
    {"name": "accuracy", "low": 1, "high": 7, "guidance": "Is every claim correct? 7: no errors."},
    {"name": "clarity", "low": 1, "high": 7, "guidance": "Easy to read for the asker."},
    {"name": "overall", "low": 1, "high": 7, "overall": True, "guidance": "Would you be glad to have written it?"},
]


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


def answer_as(store, record_id: int, annotator: str, ranks: tuple[int, ...], status: str = "submitted") -> None:
    store.save_annotation(
        AnnotationInput(
            record_id=record_id, annotator=annotator, status=status, ranks=ranks, shown_order=tuple(range(len(ranks)))
        )
    )


def two_annotators_answered(store, dataset: str = "d") -> list[int]:
    """alice and bob rank the first three records alike; bob discards the fourth."""
    ids = [r.id for r in store.next_records(dataset, "alice", limit=4)]
    store.release_all_leases("alice")
    for record_id, ranks in zip(ids[:3], [(1, 2, 3), (3, 1, 2), (2, 3, 1)]):
        answer_as(store, record_id, "alice", ranks)
        answer_as(store, record_id, "bob", ranks)
    answer_as(store, ids[3], "bob", (), status="discarded")
    return ids


def make_app(store, dataset: str | None = "d", annotator: str = ANNOTATOR, **config) -> AnnotationApp:
    """The app with a frozen clock, so timers and rates never change a screenshot."""
    settings = {"draft_delay_seconds": 0.0, **config}
    return AnnotationApp(store, annotator, dataset, AppConfig(**settings), clock=lambda: 1000.0, tune_gc=False)


async def settle(pilot) -> None:
    """Wait until the store worker is idle and every message it posted has been handled."""
    app = pilot.app
    for _ in range(20):
        await app.jobs.wait_until_done()
        await pilot.pause()  # handles the messages the jobs posted, which may queue more jobs
        if app.jobs.pending == 0:
            return
    raise AssertionError("the store worker never went idle")


async def press(pilot, *keys: str) -> None:
    """Press keys one by one, letting the store catch up after each."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def shown_texts(app) -> list[str]:
    """Candidate texts in the order the cards show them."""
    item = app.screen.session.current
    return [item.record.candidates[canonical].text for canonical in item.shown_order]


def current_external_id(app) -> str | None:
    item = app.screen.session.current
    return item.record.external_id if item else None


def screen_lines(app) -> list[str]:
    """The text of each row of the screen as it is drawn now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_has(app, needle: str) -> bool:
    return any(needle in line for line in screen_lines(app))


LONG_CHAT = [
    {"role": "system", "content": "You are a careful assistant who answers questions about cooking."},
    {"role": "user", "content": "How long should I boil an egg for a soft yolk?\nI like it runny."},
    {"role": "assistant", "content": "About six minutes from boiling water, then into cold water.\n" * 4},
    {"role": "user", "content": "And for a hard-boiled one?"},
    {"role": "assistant", "content": "Ten to twelve minutes.\n\nCool it quickly so the yolk stays yellow."},
    {"role": "user", "content": "LAST QUESTION: and at 2,500 m, where water boils cooler, how much longer?"},
]
LONG_ANSWER = "At 2,500 m water boils near 92 °C, so add two to three minutes. " + "More detail here. " * 40


def chat_rows() -> list[dict]:
    """One record: a long multi-turn chat, a long answer and two short ones."""
    return [{"id": "chat", "prompt": LONG_CHAT, "responses": [LONG_ANSWER, "Add a minute.", "Use a pressure cooker."]}]
