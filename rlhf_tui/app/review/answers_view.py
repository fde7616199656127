"""What the review screen shows, as Rich renderables built from plain values (no Textual):
the table of every annotator's answer, the final answer in words, and the review's state.
Names, comments and notes come from people: every cell is a `Text` of neutralised text,
never a string Rich would read as markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from rlhf_tui.terminal_text import neutralise
from store.types import Annotation, Review

COMMENT_CHARS = 400  # of a comment shown in the table (the rest is cut with an ellipsis)


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


def answers_table(
    answers: Sequence[Annotation], task: str, candidates: int, selected: int | None, review: Review | None
) -> Table:
    """One row per annotator: the row key, name, rank of each candidate (pairs: the choice),
    ✓ when it is the final answer, time spent and comment; > marks the selected row."""
    distinct = len({(tuple(a.ranks), a.both_bad) for a in answers if a.status == "submitted"})
    title = Text(
        f"Answers · {len(answers)} annotator{'s' if len(answers) != 1 else ''} · "
        f"{distinct} different answer{'s' if distinct != 1 else ''}",
        style="bold",
    )
    table = Table(title=title, title_justify="left", expand=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(Text(" #"), justify="right", no_wrap=True)
    table.add_column(Text("annotator"), no_wrap=True, max_width=24, overflow="ellipsis")
    if task == "pair":
        table.add_column(Text("choice"), no_wrap=True)
    else:
        for index in range(candidates):
            table.add_column(Text(f"cand {index + 1}"), justify="center", no_wrap=True)
    table.add_column(Text("final"), justify="center", no_wrap=True)
    table.add_column(Text("time"), justify="right", no_wrap=True)
    table.add_column(Text("comment"), ratio=1, overflow="fold")
    for row, answer in enumerate(answers):
        chosen = row == selected
        style = "reverse" if chosen else ""
        discarded = answer.status != "submitted"
        if task == "pair":
            marks = [Text("discarded" if discarded else pair_label(answer.ranks, answer.both_bad))]
        else:
            marks = [Text("–" if discarded or not rank else str(rank)) for rank in answer.ranks[:candidates]]
            marks += [Text("–")] * (candidates - len(marks))
            if answer.both_bad and not discarded:
                marks[-1].append(" (all bad)")
        comment = Text()
        if discarded:
            comment.append("discarded", style="bold")
            if answer.discard_reason:
                comment.append(f": {one_line(answer.discard_reason, COMMENT_CHARS)}")
            if answer.comment:
                comment.append(" · ")
        comment.append(one_line(answer.comment, COMMENT_CHARS))
        key = str(row + 1) if row < 9 else ""
        table.add_row(
            Text(f">{key}" if chosen else key),
            Text(one_line(answer.annotator)),
            *marks,
            Text("✓", style="bold green") if same_answer(answer, review) else Text(""),
            Text(seconds_text(answer.seconds_spent)),
            comment,
            style=style,
        )
    return table


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
