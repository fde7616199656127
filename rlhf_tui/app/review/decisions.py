"""The reviewer's decisions as plain values: which final answer a key makes (accepting an
annotator's answer, one's own ranking or choice), the note and gold mark waiting for the
decision, and what the candidate cards show. No Textual and no store calls: the screen
saves the `ReviewInput`s made here through the store worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rlhf_tui.app.annotate.ranking import Ranking, pair_ranks
from rlhf_tui.app.review.answers_view import answer_words, one_line, pair_label
from rlhf_tui.app.review.walk import ReviewBundle
from store.types import ReviewInput

Mode = Literal["choose", "own"]  # choosing an annotator's answer, or giving one's own
PAIR_VERDICTS = {"A": ("better", "worse"), "B": ("worse", "better"), "tie": ("tie", "tie")}


class CannotDecide(Exception):
    """The key cannot make a decision now; the message says why, for the reviewer."""


@dataclass
class Draft:
    """The reviewer's note and gold mark for the record on screen, until saved with a decision."""

    record_id: int
    note: str
    gold: bool


def draft_for(bundle: ReviewBundle) -> Draft:
    """A record's draft starts from its review's note and gold mark (none: empty)."""
    review = bundle.review
    return Draft(bundle.record.id, review.note if review else "", review.gold if review else False)


def unsaved_draft(bundle: ReviewBundle, draft: Draft | None) -> bool:
    """A note or gold mark that waits for the decision (no review yet) or differs from the review."""
    if draft is None:
        return False
    review = bundle.review
    if review is None:
        return bool(draft.note or draft.gold)
    return (draft.note, draft.gold) != (review.note, review.gold)


def accepting(bundle: ReviewBundle, row: int | None, reviewer: str, draft: Draft | None) -> tuple[ReviewInput, str]:
    """The review that accepts the answer in `row`, and what it did in words."""
    if row is None:
        rows = min(9, len(bundle.answers))
        raise CannotDecide(f"Press 1–{rows} to pick an annotator's answer first.")
    answer = bundle.answers[row]
    if answer.status != "submitted":
        raise CannotDecide(f"{one_line(answer.annotator)} discarded this record: nothing to accept.")
    draft = draft or Draft(bundle.record.id, "", False)
    review = ReviewInput(bundle.record.id, reviewer, (), False, answer.annotator, draft.note, draft.gold)
    return review, f"accepted {one_line(answer.annotator)}'s answer"


def own_ranking(bundle: ReviewBundle, ranking: Ranking, reviewer: str, draft: Draft | None) -> tuple[ReviewInput, str]:
    """The review with the reviewer's own ranking (the last unranked candidate is ranked for them)."""
    left = len(ranking.unranked_positions())
    if left > 1:
        raise CannotDecide(f"Rank every candidate first ({left} not ranked yet).")
    ranking.complete_last()
    ranks = ranking.canonical_ranks()
    draft = draft or Draft(bundle.record.id, "", False)
    review = ReviewInput(bundle.record.id, reviewer, ranks, False, None, draft.note, draft.gold)
    return review, f"your ranking {answer_words('rank', ranks, False)}"


def own_choice(bundle: ReviewBundle, choice: str, reviewer: str, draft: Draft | None) -> tuple[ReviewInput, str]:
    """The review with the reviewer's own pair choice ('a', 'b', 'tie' or 'both_bad')."""
    if len(bundle.record.candidates) != 2:
        raise CannotDecide("This record does not have exactly 2 candidates.")
    ranks, both_bad = pair_ranks((0, 1), choice)
    draft = draft or Draft(bundle.record.id, "", False)
    review = ReviewInput(bundle.record.id, reviewer, ranks, both_bad, None, draft.note, draft.gold)
    return review, f"your choice: {answer_words('pair', ranks, both_bad)}"


def amendment(bundle: ReviewBundle, draft: Draft, reviewer: str) -> ReviewInput | None:
    """A reviewed record's review again with the draft's note and gold mark (None: not reviewed yet)."""
    review = bundle.review
    if review is None:
        return None
    return ReviewInput(
        bundle.record.id,
        reviewer,
        tuple(review.ranks),
        review.both_bad,
        review.accepted_from,
        draft.note,
        draft.gold,
    )


def chosen_marks(bundle: ReviewBundle, mode: Mode, selected: int | None) -> tuple[tuple[int, ...], bool]:
    """The ranks (and both-bad mark) the cards show while choosing: the selected annotator's
    answer, else the final one; nothing in own mode or for a discarded answer."""
    if mode == "choose" and selected is not None:
        answer = bundle.answers[selected]
        if answer.status == "submitted":
            return tuple(answer.ranks), answer.both_bad
        return (), False
    if mode == "choose" and bundle.review is not None:
        return tuple(bundle.review.ranks), bundle.review.both_bad
    return (), False


def pair_verdicts(ranks: tuple[int, ...], both_bad: bool) -> tuple[str, str]:
    """What the two cards of a pair say: 'better', 'worse', 'tie', 'both bad' or ''."""
    label = pair_label(ranks, both_bad) if ranks else ""
    if label == "both bad":
        return ("both bad", "both bad")
    return PAIR_VERDICTS.get(label, ("", ""))
