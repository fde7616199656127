"""The review screen (`rlhf-tui review`): walking the queue most disputed first, accepting
an annotator's answer, one's own ranking or choice, a note, gold, amending with history,
pair labels, hostile text shown literally, a refusal, and a snapshot at 120×40."""

from __future__ import annotations

import io

import pytest
from app_support import arithmetic_rows, build_store, pair_rows, press, settle
from rich.console import Console

from rlhf_tui.app.review.app import ReviewApp
from rlhf_tui.app.review.keys import review_binding_ids
from rlhf_tui.app.review.screen import ReviewScreen
from rlhf_tui.cli import main
from store import AnnotationInput, PermissionDeniedError

REVIEWER = "lead"
# r0 all agree, r1 one dissent, r2 everyone differs, r3 answered by ann and bob only.
PLAN = {
    "r0": {"ann": (1, 2, 3), "bob": (1, 2, 3), "cat": (1, 2, 3)},
    "r1": {"ann": (1, 2, 3), "bob": (1, 2, 3), "cat": (3, 2, 1)},
    "r2": {"ann": (1, 2, 3), "bob": (2, 3, 1), "cat": (3, 1, 2)},
    "r3": {"ann": (2, 1, 3), "bob": (1, 2, 3)},
}
DISPUTED_ORDER = ["r2", "r1", "r3", "r0"]


def answer(store, record_id, who, ranks, both_bad=False, comment="", seconds=30.0):
    store.save_annotation(
        AnnotationInput(
            record_id,
            who,
            "submitted",
            tuple(ranks),
            shown_order=tuple(range(len(ranks))),
            comment=comment,
            both_bad=both_bad,
            seconds_spent=seconds,
        )
    )


@pytest.fixture
def answered(tmp_path):
    """Four 3-candidate records answered as in PLAN; bob comments on r2. Yields (store, ids by external id)."""
    store = build_store(tmp_path, "rank", arithmetic_rows(4, candidates=3), annotators_per_record=3)
    ids = {record.external_id: record.id for record in store.get_records(store.record_ids("d"))}
    for external, answers in PLAN.items():
        for seconds, (who, ranks) in enumerate(answers.items(), start=1):
            answer(
                store,
                ids[external],
                who,
                ranks,
                comment="bob read it twice" if who == "bob" else "",
                seconds=seconds * 10,
            )
    yield store, ids
    store.close()


def review_app(store, **kwargs) -> ReviewApp:
    return ReviewApp(store, "d", REVIEWER, tune_gc=False, **kwargs)


def screen_text(app) -> str:
    """Everything the review screen's texts show, as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    for static in app.screen.query("Static"):
        console.print(static.content)
    for widget in app.screen.query("CandidateCard, PromptBox"):
        console.print(str(widget.border_title or ""))
    return console.export_text()


def table_text(app) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one("#review-answers").content)
    return console.export_text()


def table_rows(app) -> dict[str, list[str]]:
    """Annotator → the rest of their row in the answers table, as words."""
    words = [line.split() for line in table_text(app).splitlines()]
    return {row[1]: row[2:] for row in words if len(row) > 2 and row[0].isdigit()}


def on_screen(app) -> str | None:
    bundle = app.screen.walk.current_bundle
    return bundle.record.external_id if bundle else None


async def type_text(pilot, text: str) -> None:
    for character in text:
        await pilot.press("space" if character == " " else character)


async def test_walks_the_queue_most_disputed_first_and_back(answered):
    store, _ = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        seen = [on_screen(app)]
        for _ in range(3):
            await press(pilot, "n")
            seen.append(on_screen(app))
        assert seen == DISPUTED_ORDER
        assert "record 4 of 4 · r0" in screen_text(app)
        await press(pilot, "n")  # the end: stays
        assert on_screen(app) == "r0"
        await press(pilot, "p", "left")
        assert on_screen(app) == "r1"
        await press(pilot, "right")
        assert on_screen(app) == "r3"
        assert app.rendered_records == 7  # each move rendered once


async def test_slash_goes_to_a_record_by_its_id_in_or_out_of_the_queue(answered, tmp_path):
    from conftest import write_jsonl

    store, _ = answered
    extra = write_jsonl(tmp_path / "one.jsonl", [{"id": "solo", "prompt": "alone?", "responses": ["a", "b", "c"]}])
    store.import_file(extra, dataset="d")
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert on_screen(app) == "r2"
        await press(pilot, "slash")
        await type_text(pilot, "r0")
        await press(pilot, "enter")
        await settle(pilot)
        assert on_screen(app) == "r0"  # in the queue (last): the walk goes there
        await press(pilot, "slash")
        await type_text(pilot, "nope")
        await press(pilot, "enter")
        await settle(pilot)
        assert on_screen(app) == "r0"  # an unknown id changes nothing (a notice says so)
        await press(pilot, "p")
        assert on_screen(app) == "r3"
        await press(pilot, "slash")
        await type_text(pilot, "solo")  # no answers, so not in the queue: shown next all the same
        await press(pilot, "enter")
        await settle(pilot)
        assert on_screen(app) == "solo"
        await press(pilot, "p")
        assert on_screen(app) == "r3"


async def test_the_table_shows_every_answer_with_time_and_comment(answered):
    store, _ = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = table_rows(app)
        # r2: ann (1,2,3) in 10 s, bob (2,3,1) in 20 s with a comment, cat (3,1,2) in 30 s
        assert rows["ann"][:4] == ["1", "2", "3", "10"]
        assert rows["bob"][:8] == ["2", "3", "1", "20", "s", "bob", "read", "it"]
        assert rows["cat"][:4] == ["3", "1", "2", "30"]
        assert "3 annotators · 3 different answers" in screen_text(app)
        assert "Not reviewed yet" in screen_text(app)


def answer_seen(store, record_id, who, ranks, shown_order, comment="", **extra):
    """An answer given by someone who saw the candidates in `shown_order` (canonical indexes, their card 1 first)."""
    store.save_annotation(
        AnnotationInput(
            record_id, who, "submitted", tuple(ranks), shown_order=tuple(shown_order), comment=comment, **extra
        )
    )


async def test_a_pair_answer_is_shown_as_its_annotator_saw_it_with_their_comment_read_in_their_letters(tmp_path):
    store = build_store(tmp_path, "pair", pair_rows(1), annotators_per_record=2)
    [record_id] = store.record_ids("d")
    answer_seen(store, record_id, "ann", (1, 2), (0, 1), comment="A is right")
    # bob saw the second candidate as his A, pressed a, and wrote about his card 2 (the reviewer's A)
    answer_seen(store, record_id, "bob", (2, 1), (1, 0), comment="Card 2 is wrong about sets; A is right")
    app = review_app(store)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            table = table_text(app)
            assert "they saw" in table
            bob = next(line for line in table.splitlines() if " bob " in line)
            assert "B (their A)" in bob and " B A " in bob
            assert "Card 2 (= candidate A) is wrong about sets; A (= candidate B) is right" in bob
            ann = next(line for line in table.splitlines() if " ann " in line)
            assert "same" in ann and "A is right" in ann and "(= candidate" not in ann  # ann saw the reviewer's order
            await press(pilot, "2")
            assert "bob saw another order: their A = candidate B · their B = candidate A" in screen_text(app)
    finally:
        store.close()


async def test_a_ranking_comment_names_the_candidates_on_the_reviewers_screen(answered):
    store, ids = answered
    # dan saw candidate 3 first, then 1, then 2
    answer_seen(store, ids["r0"], "dan", (2, 3, 1), (2, 0, 1), comment="#1 is best, card 3 rambles")
    app = review_app(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "r0")
        await press(pilot, "enter")
        await settle(pilot)
        table = table_text(app)
        dan = next(line for line in table.splitlines() if " dan " in line)
        assert " 3 1 2 " in dan
        assert "#1 (= candidate 3) is best, card 3 (= candidate 2) rambles" in dan
        await press(pilot, "4")
        assert "their 1 = candidate 3 · their 2 = candidate 1 · their 3 = candidate 2" in screen_text(app)


async def test_agreeing_answers_are_not_called_one_different_answer(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(1, candidates=3), annotators_per_record=2)
    [record_id] = store.record_ids("d")
    answer(store, record_id, "ann", (1, 2, 3))
    answer(store, record_id, "bob", (1, 2, 3))
    app = review_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "2 annotators · both give the same answer" in screen_text(app)
            assert "different answer" not in screen_text(app)
    finally:
        store.close()


async def test_written_answers_are_shown_to_the_reviewer_before_any_promotion(tmp_path):
    store = build_store(
        tmp_path, "rank", arithmetic_rows(1, candidates=3), annotators_per_record=2, settings={"written_answers": True}
    )
    [record_id] = store.record_ids("d")
    answer_seen(store, record_id, "ann", (1, 2, 3), (0, 1, 2), written="Six, since 3 + 3 = 6.", written_rank=2)
    answer(store, record_id, "bob", (2, 1, 3))
    app = review_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert "Written answers · 1" in text
            assert "ann (below their 1st, above their 2nd): Six, since 3 + 3 = 6." in text
    finally:
        store.close()


async def test_the_footer_keeps_the_annotator_keys_apart_from_accept(answered):
    store, _ = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        label = app.screen.query_one("FooterLabel")
        accept = next(key for key in app.screen.query("FooterKey") if key.action == "accept")
        assert str(label.render()).strip() == "Annotator"
        assert accept.region.x > label.region.right  # a space between "Annotator" and "⏎ Accept"
        keys_before = [key for key in app.screen.query("FooterKey") if key.region.right <= label.region.x]
        assert keys_before and label.region.x > max(key.region.right for key in keys_before) - 1


async def test_accepting_an_annotators_answer_stores_it_with_the_reviewer(answered):
    store, ids = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")  # nothing selected: nothing saved
        assert store.get_review(ids["r2"]) is None
        await press(pilot, "2", "enter")
        review = store.get_review(ids["r2"])
        assert (review.accepted_from, review.reviewer, review.ranks, review.revision) == ("bob", REVIEWER, (2, 3, 1), 1)
        assert on_screen(app) == "r1"  # on to the next record at once
        await press(pilot, "p")
        text = screen_text(app)
        assert "Reviewed by lead (you) · revision 1 · final: 3 > 1 > 2 · bob's answer" in text
        assert "✔ reviewed" in text


async def test_own_ranking_with_a_tie(answered):
    store, ids = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "r", "3", "1")
        assert "YOUR RANKING" in screen_text(app)
        await press(pilot, "enter")  # candidate 2 is ranked last for you
        review = store.get_review(ids["r2"])
        assert (review.ranks, review.accepted_from, review.reviewer) == ((2, 3, 1), None, REVIEWER)
        assert on_screen(app) == "r1"
        await press(pilot, "r", "2", "t", "3", "enter")
        assert store.get_review(ids["r1"]).ranks == (2, 1, 1)
        await press(pilot, "r", "escape", "n")  # leaving own mode saves nothing
        assert store.get_review(ids["r3"]) is None and on_screen(app) == "r0"


async def test_a_note_and_gold_go_with_the_decision(answered):
    store, ids = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "c")
        await type_text(pilot, "bob saw the trap")
        await press(pilot, "enter", "g")
        assert store.get_review(ids["r2"]) is None  # kept for the decision
        assert "note: bob saw the trap" in screen_text(app)
        await press(pilot, "1", "enter")
        review = store.get_review(ids["r2"])
        assert (review.note, review.gold, review.accepted_from) == ("bob saw the trap", True, "ann")
        assert on_screen(app) == "r1"
        assert "note:" not in screen_text(app)  # the next record starts without it


async def test_amending_a_review_makes_revision_two_with_history(answered):
    store, ids = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "enter", "p")
        await press(pilot, "r", "1", "2", "enter")
        review = store.get_review(ids["r2"])
        assert (review.ranks, review.revision, review.accepted_from) == ((1, 2, 3), 2, None)
        assert [(old.revision, old.accepted_from, old.ranks) for old in store.review_history(ids["r2"])] == [
            (1, "bob", (2, 3, 1))
        ]
        await press(pilot, "p", "g")  # gold on a reviewed record amends it at once
        assert (store.get_review(ids["r2"]).revision, store.get_review(ids["r2"]).gold) == (3, True)
        await press(pilot, "c")
        await type_text(pilot, "checked")
        await press(pilot, "enter")
        review = store.get_review(ids["r2"])
        assert (review.revision, review.note, review.gold, review.ranks) == (4, "checked", True, (1, 2, 3))
        text = screen_text(app)
        assert "revision 4" in text
        assert "earlier: rev 3 by lead: 1 > 2 > 3 (own answer, gold) · rev 2 by lead" in text


async def test_pair_datasets_show_a_b_tie_and_both_bad(tmp_path):
    store = build_store(tmp_path, "pair", pair_rows(2), annotators_per_record=3)
    ids = {record.external_id: record.id for record in store.get_records(store.record_ids("d"))}
    for record_id in ids.values():
        answer(store, record_id, "ann", (1, 2))
        answer(store, record_id, "bob", (2, 1))
        answer(store, record_id, "cat", (1, 1), both_bad=True)
        answer(store, record_id, "dan", (1, 1))
    app = review_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            rows = {who: " ".join(row[:2]) for who, row in table_rows(app).items()}
            assert rows == {"ann": "A 30", "bob": "B 30", "cat": "both bad", "dan": "tie 30"}
            assert [card.label for card in app.screen.query("CandidateCard")] == ["A", "B"]
            first = on_screen(app)
            await press(pilot, "r", "b")
            assert store.get_review(ids[first]).ranks == (2, 1)
            await press(pilot, "r", "x")
            second = store.get_review(ids["p1" if first == "p0" else "p0"])
            assert (second.ranks, second.both_bad) == ((1, 1), True)
            await press(pilot, "p", "3", "enter")  # accept cat's "both bad" as it is: an amendment
            amended = store.get_review(ids[first])
            assert (amended.accepted_from, amended.both_bad, amended.revision) == ("cat", True, 2)
    finally:
        store.close()


HOSTILE_CANDIDATE = "\x1b[31mred\x1b[0m and [red]markup[/red]"
HOSTILE_COMMENT = "[bold]loud[/bold]\x1b]0;pwned\x07"
HOSTILE_NAME = "[red]eve\x1b[2J"


async def test_hostile_text_is_shown_literally(tmp_path):
    rows = [{"id": "[b]x[/b]", "prompt": "[link=http://evil]click[/link]", "responses": [HOSTILE_CANDIDATE, "plain"]}]
    store = build_store(tmp_path, "rank", rows, annotators_per_record=2)
    (record_id,) = store.record_ids("d")
    answer(store, record_id, HOSTILE_NAME, (1, 2), comment=HOSTILE_COMMENT)
    answer(store, record_id, "bob", (2, 1))
    app = review_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await press(pilot, "1")  # the hostile row selected: its name in the status line too
            text = screen_text(app)
            assert "\x1b" not in text and "\x07" not in text
            assert "␛[31mred␛[0m and [red]markup[/red]" in text
            assert "[link=http://evil]click[/link]" in text
            assert "[bold]loud[/bold]␛]0;pwned␇" in text
            assert "[red]eve␛[2J" in table_text(app) and "[bold]loud[/bold]␛]0;pwned␇" in table_text(app)
            assert "accept [red]eve␛[2J's answer" in text
            assert "[b]x[/b]" in text
            await press(pilot, "enter")
            assert store.get_review(record_id).accepted_from == HOSTILE_NAME
    finally:
        store.close()


class NotAnAdmin:
    """A real store whose review calls are refused, as the service refuses a non-admin."""

    def __init__(self, store) -> None:
        self._store = store

    def review_queue(self, *args, **kwargs):
        raise PermissionDeniedError("review is for admins, and tester is not one")

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_a_refusal_stops_the_app_with_its_line(answered, capsys):
    store, _ = answered
    app = ReviewApp(NotAnAdmin(store), "d", REVIEWER, tune_gc=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause()
    assert app.return_code == 1
    assert "error while opening the review: review is for admins, and tester is not one" in capsys.readouterr().err


async def test_an_empty_queue_says_so(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2))
    app = review_app(store)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "Nothing to review: no record of 'd' with two or more answers yet." in screen_text(app)
            await press(pilot, "n", "enter", "r", "1")  # nothing to act on: no error
            assert isinstance(app.screen, ReviewScreen)
    finally:
        store.close()


def test_the_command_refuses_bad_options_and_unknown_datasets_in_one_line(tmp_path, capsys, answered):
    store, _ = answered
    path = tmp_path / "store.duckdb"
    store.close()
    assert main(["review", "--dataset", "nope", "--store", str(path)]) == 1
    assert main(["review", "--dataset", "d", "--order", "annotator", "--store", str(path)]) == 1
    assert main(["review", "--dataset", "d", "--order", "commented", "--annotator", "ann", "--store", str(path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "nope" in lines[0] and "--annotator WHO" in lines[1] and "--order annotator" in lines[2]


def test_every_review_binding_has_an_id():
    from rlhf_tui.app.review.keys import review_binding_groups

    bindings = [binding for _, group in review_binding_groups() for binding in group]
    assert all(binding.id and binding.id.startswith("review.") for binding in bindings)
    assert {
        "review.next",
        "review.previous",
        "review.accept",
        "review.own_answer",
        "review.note",
        "review.gold",
    } <= review_binding_ids()


def test_review_screen_snapshot(snap_compare, answered):
    store, _ = answered

    async def ready(pilot):
        await settle(pilot)
        await press(pilot, "2")

    assert snap_compare(review_app(store), terminal_size=(120, 40), run_before=ready)


async def test_help_lists_the_ids_and_quit_waits_for_the_save(answered):
    store, ids = answered
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        help_text = screen_text(app)
        assert "review.accept" in help_text and "review.rank.tie" in help_text and "review.pair.both_bad" in help_text
        await press(pilot, "escape")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("3", "enter", "q")  # quit at once after a decision: the save still lands
        await settle(pilot)
    assert app.return_code in (0, None)
    assert store.get_review(ids["r2"]).accepted_from == "cat"


async def test_the_reviewer_sees_the_reward_models_ranking_marked_as_the_models(answered):
    store, ids = answered
    # r2 (shown first): the model ranks candidate 3 first, then 1, then 2; margin 1.5.
    store.save_scores("rm-\x1b[2Jv2", [(ids["r2"], 0, 1.0), (ids["r2"], 1, -2.0), (ids["r2"], 2, 2.5)])
    app = review_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert on_screen(app) == "r2"
        shown = str(app.screen.query_one("#review-model").content)
        assert "Reward model rm-" in shown and "(the model's, not an annotator's): 3 ≻ 1 ≻ 2" in shown
        assert "margin 1.50 (82% sure)" in shown and "same best as bob" in shown  # bob ranked candidate 3 first
        assert "\x1b" not in shown
        await press(pilot, "n")
        await settle(pilot)
        assert on_screen(app) == "r1" and not app.screen.query_one("#review-model").display  # r1 is not scored


async def test_review_order_model_disagrees_from_the_command_line_opens_on_the_blind_spot(answered, monkeypatch):
    store, ids = answered
    # r0: all three agree on candidate 1; the model is sure candidate 2 is best: a blind spot.
    store.save_scores("rm", [(ids["r0"], 0, 0.0), (ids["r0"], 1, 4.0), (ids["r0"], 2, -1.0)])
    app = review_app(store, order="model-disagrees")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert on_screen(app) == "r0"
        assert "model-disagrees order" in screen_text(app)
