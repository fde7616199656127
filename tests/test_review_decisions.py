"""The review's decisions without a screen: what accepting, one's own ranking or choice
and an amendment save, and why a key cannot decide yet; and each answer as its annotator
saw it (their cards, their letters, their comment in the reviewer's numbering)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rlhf_tui.app.annotate.ranking import Ranking
from rlhf_tui.app.review import decisions
from rlhf_tui.app.review.decisions import CannotDecide, Draft
from rlhf_tui.app.review.their_view import comment_in_reviewer_terms, their_cards, their_pair_label
from rlhf_tui.app.review.walk import ReviewBundle
from store.types import Annotation, Candidate, Record, Review, ReviewItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def an_answer(who: str, ranks: tuple[int, ...], status: str = "submitted") -> Annotation:
    return Annotation(1, 7, who, status, ranks, tuple(range(len(ranks))), "", "", False, 10.0, NOW, NOW, 1)


def a_bundle(answers: tuple[Annotation, ...], review: Review | None = None, candidates: int = 3) -> ReviewBundle:
    record = Record(7, "d", "r7", "q?", tuple(Candidate(i, f"c{i}") for i in range(candidates)))
    item = ReviewItem(7, "r7", len(answers), 1, 0.0, 0, review is not None)
    return ReviewBundle(item, record, answers, review, ())


def test_accepting_needs_a_row_and_a_submitted_answer():
    bundle = a_bundle((an_answer("ann", (1, 2, 3)), an_answer("bob", (), status="discarded")))
    with pytest.raises(CannotDecide, match="Press 1–2 to pick"):
        decisions.accepting(bundle, None, "lead", None)
    with pytest.raises(CannotDecide, match="bob discarded this record"):
        decisions.accepting(bundle, 1, "lead", None)
    review, what = decisions.accepting(bundle, 0, "lead", Draft(7, "fine", True))
    assert (review.accepted_from, review.note, review.gold, review.reviewer) == ("ann", "fine", True, "lead")
    assert what == "accepted ann's answer"


def test_an_own_ranking_waits_for_all_but_the_last_candidate():
    bundle = a_bundle((an_answer("ann", (1, 2, 3)),))
    ranking = Ranking((0, 1, 2))
    ranking.toggle(2)
    with pytest.raises(CannotDecide, match="2 not ranked yet"):
        decisions.own_ranking(bundle, ranking, "lead", None)
    ranking.toggle(0)
    review, what = decisions.own_ranking(bundle, ranking, "lead", None)
    assert review.ranks == (2, 3, 1) and what == "your ranking 3 > 1 > 2"


def test_an_own_pair_choice_needs_two_candidates():
    with pytest.raises(CannotDecide, match="exactly 2 candidates"):
        decisions.own_choice(a_bundle((an_answer("ann", (1, 2, 3)),)), "a", "lead", None)
    review, what = decisions.own_choice(a_bundle((an_answer("ann", (1, 2)),), candidates=2), "b", "lead", None)
    assert review.ranks == (2, 1) and what == "your choice: B better"


def test_an_amendment_keeps_the_final_answer_and_takes_the_new_note():
    review = Review(1, 7, "lead", (2, 1, 3), False, None, "old", False, NOW, NOW, 1)
    bundle = a_bundle((an_answer("ann", (1, 2, 3)),), review)
    draft = Draft(7, "new note", True)
    assert decisions.unsaved_draft(bundle, draft)
    amended = decisions.amendment(bundle, draft, "lead")
    assert amended is not None and (amended.ranks, amended.note, amended.gold) == ((2, 1, 3), "new note", True)
    assert decisions.amendment(a_bundle((an_answer("ann", (1, 2, 3)),)), draft, "lead") is None


def test_their_cards_and_letters_in_the_reviewers_terms():
    assert their_cards((2, 0, 1), ["1", "2", "3"]) == ["3", "1", "2"]
    assert their_cards((0, 1, 2), ["1", "2", "3"]) is None  # the reviewer's own order
    assert their_cards((), ["1", "2"]) is None  # not known
    assert their_pair_label("B", (1, 0)) == "A" and their_pair_label("B", (0, 1)) == "B"
    assert their_pair_label("tie", (1, 0)) == "tie"


def test_a_comment_names_the_reviewers_candidates_only_where_they_differ():
    pair = comment_in_reviewer_terms("A is fine. B is wrong; answer 2 too. A small slip.", ["B", "A"], ["A", "B"])
    assert pair.plain == (
        "A (= candidate B) is fine. B (= candidate A) is wrong; answer 2 (= candidate A) too. A small slip."
    )
    ranked = comment_in_reviewer_terms("Card 2 beats #3", ["1", "3", "2"], ["1", "2", "3"])
    assert ranked.plain == "Card 2 (= candidate 3) beats #3 (= candidate 2)"
    assert comment_in_reviewer_terms("card 1 is best", ["1", "3", "2"], ["1", "2", "3"]).plain == "card 1 is best"
    assert comment_in_reviewer_terms("[b]card 2[/b]", None, ["1", "2"]).plain == "[b]card 2[/b]"
