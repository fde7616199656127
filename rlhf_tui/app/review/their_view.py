"""Each answer as its annotator saw it. Annotators see the candidates in their own
shuffled order, so their card 2 (or their A) is often another candidate on the
reviewer's screen, which shows them in the file's order. Here: the reviewer's label of
each card they saw, their choice in their own labels, and their comment with every
reference to a card ("card 2", "#2", "answer B", "B is wrong") followed by the candidate
it means on the reviewer's screen. Plain Python, no Textual."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.text import Text

# "card 2", "candidate B", "response #1", "#3": a word for a card (or #), then its label.
_REFERENCE = re.compile(
    r"(?:(?<![\w])(?:cards?|candidates?|cands?|answers?|responses?|options?|completions?|replies|reply)\s*#?\s*|#)"
    r"(?P<label>\d+|[A-Ba-b])(?![\w])",
    re.IGNORECASE,
)
# In a pair, a bare capital A or B naming a card: "B is wrong", "A and B", "better than A."
_BARE_PAIR_LABEL = re.compile(
    r"(?<![\w'’])(?P<label>[AB])(?![\w'’-])"
    r"(?=\s*(?:$|[^\w\s]|(?:is|was|has|had|gives|gave|says|said|seems|looks|gets|got|does|did|better|worse|wins|"
    r"and|or|vs|than|over|too|also|because|but)\b))"
)


def reviewer_labels(task: str, count: int) -> list[str]:
    """How the screens label the cards: A and B for a pair, else 1…N."""
    return ["A", "B"] if task == "pair" and count == 2 else [str(n + 1) for n in range(count)]


def their_cards(shown_order: Sequence[int], labels: Sequence[str]) -> list[str] | None:
    """The reviewer's label of each card the annotator saw, in their order (their card 1
    first); None when they saw the reviewer's order (or the order is not known)."""
    order = list(shown_order)
    if sorted(order) != list(range(len(labels))) or order == sorted(order):
        return None
    return [labels[canonical] for canonical in order]


def their_pair_label(canonical_label: str, shown_order: Sequence[int]) -> str:
    """A pair choice in the annotator's own letters ("A" is the card they saw first)."""
    if canonical_label not in ("A", "B") or list(shown_order) != [1, 0]:
        return canonical_label
    return "B" if canonical_label == "A" else "A"


def mapping_words(cards: Sequence[str], labels: Sequence[str]) -> str:
    """`their 1 = candidate 3 · their 2 = candidate 1 …`"""
    return " · ".join(f"their {label} = candidate {card}" for label, card in zip(labels, cards))


def comment_in_reviewer_terms(comment: str, cards: Sequence[str] | None, labels: Sequence[str]) -> Text:
    """The comment with each card it names followed by "(= candidate X)", the card on the
    reviewer's screen, where that differs from the label the annotator wrote."""
    text = Text(end="")
    if not cards:
        text.append(comment)
        return text
    means = {label.upper(): card for label, card in zip(labels, cards)}
    means.update({str(k + 1): card for k, card in enumerate(cards)})  # "card 2" of a pair is their B
    spans: list[tuple[int, str]] = []
    for match in _REFERENCE.finditer(comment):
        label = match.group("label").upper()
        if label in means and means[label] != (labels[int(label) - 1] if label.isdigit() else label):
            spans.append((match.end(), means[label]))
    if labels == ["A", "B"]:
        for match in _BARE_PAIR_LABEL.finditer(comment):
            label = match.group("label")
            if means[label] != label and all(end != match.end() for end, _ in spans):
                spans.append((match.end(), means[label]))
    start = 0
    for end, card in sorted(spans):
        text.append(comment[start:end])
        text.append(f" (= candidate {card})", style="bold cyan")
        start = end
    text.append(comment[start:])
    return text
