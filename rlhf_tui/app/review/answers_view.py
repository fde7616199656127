"""What the review screen shows, as Rich renderables built from plain values (no Textual):
the table of every annotator's answer, the final answer in words, and the review's state.
Names, comments and notes come from people: every cell is a `Text` of neutralised text,
never a string Rich would read as markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.text import Text

from rlhf_tui.app.annotate.ranking import written_place
from rlhf_tui.app.review.their_view import (
    comment_in_reviewer_terms,
    mapping_words,
    reviewer_labels,
    their_cards,
    their_pair_label,
)
from rlhf_tui.terminal_text import neutralise
from store.types import Annotation, Review

COMMENT_CHARS = 400  # of a comment shown in the table (the rest is cut with an ellipsis)
NAME_CELLS = 24  # the widest an annotator's name is shown
CHOICE_CELLS = 13  # "B (their A)"
GAP = Text("  ")  # between the table's columns


def one_line(text: str, limit: int | None = None) -> str:
    shown = text if limit is None or len(text) <= limit else text[:limit] + "…"
    return neutralise(shown, one_line=True)


def pair_label(ranks: Sequence[int], both_bad: bool) -> str:
    """A pair answer by canonical candidate: A is the first candidate, B the second."""
    if both_bad:
        return "both bad"
    if len(ranks) != 2 or 0 in ranks:
        return "–"
    if ranks[0] == ranks[1]:
        return "tie"
    return "A" if ranks[0] < ranks[1] else "B"


def ranking_words(ranks: Sequence[int]) -> str:
    """Candidates best first, ties joined by '=': (2, 1, 2) → '2 > 1 = 3'."""
    by_rank: dict[int, list[int]] = {}
    for index, rank in enumerate(ranks):
        if rank > 0:
            by_rank.setdefault(rank, []).append(index + 1)
    return " > ".join(" = ".join(str(c) for c in by_rank[r]) for r in sorted(by_rank)) or "–"


def answer_words(task: str, ranks: Sequence[int], both_bad: bool) -> str:
    if task == "pair":
        label = pair_label(ranks, both_bad)
        return label if label in ("tie", "both bad", "–") else f"{label} better"
    return ranking_words(ranks) + (" (all bad)" if both_bad else "")


def seconds_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole} s" if whole < 60 else f"{whole // 60}:{whole % 60:02d}"


def same_answer(answer: Annotation, review: Review | None) -> bool:
    return (
        review is not None
        and answer.status == "submitted"
        and tuple(answer.ranks) == tuple(review.ranks)
        and answer.both_bad == review.both_bad
    )


def cell(text: str | Text, width: int, justify: JustifyMethod = "left", style: str = "") -> Text:
    """`text` in exactly `width` cells (cut with an ellipsis, padded), as plain `Text`."""
    piece = text.copy() if isinstance(text, Text) else Text(text, style=style)
    piece.truncate(width, overflow="ellipsis")
    gap = width - piece.cell_len
    if justify == "right":
        piece = Text(" " * gap) + piece
    elif justify == "center":
        piece = Text(" " * (gap // 2)) + piece + Text(" " * (gap - gap // 2))
    else:
        piece.append(" " * gap)
    return piece


def agreement_words(answers: Sequence[Annotation]) -> str:
    """`2 annotators · both give the same answer`, `3 annotators · 2 different answers`."""
    submitted = [a for a in answers if a.status == "submitted"]
    distinct = len({(tuple(a.ranks), a.both_bad) for a in submitted})
    head = f"{len(answers)} annotator{'s' if len(answers) != 1 else ''}"
    if not submitted:
        return f"{head} · no submitted answer"
    if len(submitted) == 1:
        return f"{head} · 1 submitted answer"
    if distinct == 1:
        return f"{head} · {'both' if len(submitted) == 2 else 'all'} give the same answer"
    return f"{head} · {distinct} different answers"


def answers_table(
    answers: Sequence[Annotation],
    task: str,
    candidates: int,
    selected: int | None,
    review: Review | None,
    width: int = 200,
) -> Text:
    """One line per annotator: the row key, name, rank of each candidate (pairs: the choice,
    with the letter they pressed where they saw the pair the other way round), the order
    they saw the candidates in, ✓ when it is the final answer, time spent and comment (each
    card it names followed by the candidate that is on the reviewer's screen); > marks the
    selected row. Each line is cut to `width` cells.

    Laid out by hand in fixed columns, one line per row (a comment is cut with an ellipsis):
    a Rich `Table` was measured and rendered many times per record and took most of the
    time between a keypress and the next record on screen."""
    text = Text(end="")
    text.append(f"Answers · {agreement_words(answers)}\n", style="bold")
    names = [one_line(answer.annotator) for answer in answers]
    name_width = min(NAME_CELLS, max([cell_len(name) for name in names] + [len("annotator")]))
    labels = reviewer_labels(task, candidates)
    seen_by_row = [their_cards(answer.shown_order, labels) for answer in answers]
    # the column only when someone saw another order than the reviewer's
    seen_width = max(len("they saw"), len(" ".join(labels))) if any(seen_by_row) else 0
    if task == "pair":
        marks_head = [cell("choice", CHOICE_CELLS)]
    else:
        marks_head = [cell(f"cand {index + 1}", 6, "center") for index in range(candidates)]
    header = [
        cell(" #", 2),
        cell("annotator", name_width),
        *marks_head,
        *([cell("they saw", seen_width)] if seen_width else []),
        cell("final", 5),
        cell("time", 5, "right"),
    ]
    head = GAP.join([*header, Text("comment")])
    head.truncate(width, overflow="ellipsis")
    head.stylize("bold")
    text.append_text(head)
    for row, (answer, name) in enumerate(zip(answers, names)):
        chosen = row == selected
        discarded = answer.status != "submitted"
        cards = seen_by_row[row]
        if task == "pair":
            choice = pair_label(answer.ranks, answer.both_bad)
            theirs = their_pair_label(choice, answer.shown_order)
            shown = "discarded" if discarded else choice if theirs == choice else f"{choice} (their {theirs})"
            marks = [cell(shown, CHOICE_CELLS)]
        else:
            ranks = list(answer.ranks[:candidates]) + [0] * (candidates - len(answer.ranks))
            marks = [cell("–" if discarded or not rank else str(rank), 6, "center") for rank in ranks]
        comment = Text()
        if discarded:
            comment.append("discarded", style="bold")
            if answer.discard_reason:
                comment.append(f": {one_line(answer.discard_reason, COMMENT_CHARS)}")
            if answer.comment:
                comment.append(" · ")
        elif answer.both_bad and task != "pair":
            comment.append("all bad · ", style="bold")
        comment.append_text(comment_in_reviewer_terms(one_line(answer.comment, COMMENT_CHARS), cards, labels))
        key = str(row + 1) if row < 9 else ""
        seen = (
            [cell(" ".join(cards) if cards else "same", seen_width, style="" if cards else "dim")] if seen_width else []
        )
        final = Text("✓", style="bold green") if same_answer(answer, review) else Text("")
        line = GAP.join(
            [
                cell(f">{key}" if chosen else f" {key}", 2),
                cell(name, name_width),
                *marks,
                *seen,
                cell(final, 5, "center"),
                cell(seconds_text(answer.seconds_spent), 5, "right"),
                comment,
            ]
        )
        line.truncate(width, overflow="ellipsis", pad=chosen)  # the selected row is reversed across the box
        if chosen:
            line.stylize("reverse")
        text.append("\n")
        text.append_text(line)
    return text


def their_order_text(answer: Annotation, task: str, candidates: int) -> Text | None:
    """For the selected answer: which candidate each card its annotator saw was, when they
    saw another order than the reviewer's (None when the same)."""
    labels = reviewer_labels(task, candidates)
    cards = their_cards(answer.shown_order, labels)
    if cards is None:
        return None
    text = Text(end="")
    text.append(f"{one_line(answer.annotator, NAME_CELLS)} saw another order: ", style="bold")
    text.append(mapping_words(cards, labels))
    return text


WRITTEN_CHARS = 300  # of a written answer shown (the whole text with the expand key)


def written_answers_text(answers: Sequence[Annotation], candidates: int, expanded: bool = False) -> Text | None:
    """The answers annotators wrote themselves, with where each put theirs among the
    candidates: shown to the reviewer whether or not they were promoted (None: no one wrote one)."""
    written = [a for a in answers if a.written is not None and a.written.strip()]
    if not written:
        return None
    text = Text(end="")
    text.append(f"Written answers · {len(written)}", style="bold")
    for answer in written:
        place = written_place(answer.written_rank or 1, candidates, "their")
        text.append("\n")
        text.append(one_line(answer.annotator, NAME_CELLS), style="bold")
        text.append(f" ({place}): ", style="dim")
        body = answer.written or ""
        text.append(neutralise(body) if expanded else one_line(body, WRITTEN_CHARS))
    return text


def review_text(review: Review | None, history: Sequence[Review], task: str, you: str) -> Text:
    """The record's review: by whom, which revision, what it says, and what came before."""
    text = Text(end="")
    if review is None:
        text.append("Not reviewed yet", style="bold yellow")
        return text
    text.append("Reviewed ", style="bold green")
    text.append(f"by {one_line(review.reviewer)}")
    if review.reviewer == you:
        text.append(" (you)")
    text.append(f" · revision {review.revision}")
    text.append(f" · final: {answer_words(task, review.ranks, review.both_bad)}", style="bold")
    text.append(f" · {source_words(review)}")
    if review.gold:
        text.append(" · gold", style="bold yellow")
    if review.note:
        text.append("\nnote: ", style="bold")
        text.append(one_line(review.note, 1000))
    if history:
        text.append("\nearlier: ", style="dim")
        earlier = [
            f"rev {old.revision} by {one_line(old.reviewer)}: {answer_words(task, old.ranks, old.both_bad)}"
            f" ({source_words(old)}{', gold' if old.gold else ''})"
            for old in reversed(history[-3:])
        ]
        text.append(" · ".join(earlier), style="dim")
        if len(history) > 3:
            text.append(f" · {len(history) - 3} more", style="dim")
    return text


def source_words(review: Review) -> str:
    return f"{one_line(review.accepted_from)}'s answer" if review.accepted_from else "own answer"
