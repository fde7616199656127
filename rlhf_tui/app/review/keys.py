"""Every key of the review screen, each with a stable id (for the `[keymap]` table of the
config file), a description, a tooltip and an explicit footer `show`.

Ids: `review.*` everywhere on the review screen; `review.rank.*` while giving your own
ranking (rank datasets), `review.pair.*` while giving your own choice (pair datasets).
The same keys mean different things by mode (digits pick an annotator's row, or rank a
candidate while ranking); the screen's `check_action` offers only the current mode's."""

from __future__ import annotations

from textual.binding import Binding

from rlhf_tui.app.keymap import ranking_bindings

_ANNOTATOR_GROUP = Binding.Group("Annotator", compact=True)
_RANK_GROUP = Binding.Group("Rank", compact=True)

REVIEW_BINDINGS: list[Binding] = [
    *(
        Binding(
            str(n),
            f"select_annotator({n - 1})",
            f"Annotator {n}",
            show=True,
            id=f"review.select_annotator_{n}",
            group=_ANNOTATOR_GROUP,
            tooltip=f"Select annotator row {n} (enter then accepts that answer)",
        )
        for n in range(1, 10)
    ),
    Binding(
        "enter",
        "accept",
        "Accept",
        show=True,
        id="review.accept",
        tooltip="Make the selected annotator's answer the final one (with your note and gold mark) and go on",
    ),
    Binding(
        "r",
        "own_answer",
        "Own answer",
        show=True,
        id="review.own_answer",
        tooltip="Give your own ranking (digits, like annotating) or choice (a/b/t/x) as the final answer",
    ),
    # Priority: a focused card would otherwise scroll sideways on ← →.
    Binding("n,right", "next", "Next", show=True, id="review.next", key_display="n/→", priority=True),
    Binding("p,left", "previous", "Prev", show=True, id="review.previous", key_display="p/←", priority=True),
    Binding(
        "slash",
        "jump",
        "Go to",
        show=True,
        id="review.jump",
        key_display="/",
        tooltip="Go to a record by its id from the file (it need not be in the queue)",
    ),
    Binding(
        "c",
        "note",
        "Note",
        show=True,
        id="review.note",
        tooltip="Write the review's note (a reviewed record is amended at once, else saved with your decision)",
    ),
    Binding(
        "g",
        "gold",
        "Gold",
        show=True,
        id="review.gold",
        tooltip="Mark or unmark the record as gold (a reviewed record is amended at once)",
    ),
    Binding("e", "expand", "Expand", show=False, id="review.expand", tooltip="Show long prompts and answers in full"),
    Binding("question_mark,f1", "help", "Help", show=True, id="review.help", key_display="?"),
    Binding("q", "quit", "Quit", show=True, id="review.quit", tooltip="Quit once every review is saved"),
    Binding(
        "ctrl+c",
        "interrupt",
        "Quit",
        show=False,
        priority=True,
        id="review.interrupt",
        tooltip="Quit like q; pressed again while quitting: quit at once, unsaved reviews lost",
    ),
]

REVIEW_RANK_BINDINGS: list[Binding] = [
    *ranking_bindings("review.rank", _RANK_GROUP),
    Binding("backspace", "clear", "Clear", show=True, id="review.rank.clear", tooltip="Clear your ranking"),
    Binding(
        "enter",
        "save_ranking",
        "Save",
        show=True,
        id="review.rank.save",
        tooltip="Save your ranking as the final answer once every candidate is ranked (the last one is ranked for you)",
    ),
]

REVIEW_PAIR_BINDINGS: list[Binding] = [
    Binding("a,1", "decide('a')", "A better", show=True, id="review.pair.a_better", key_display="a"),
    Binding("b,2", "decide('b')", "B better", show=True, id="review.pair.b_better", key_display="b"),
    Binding("t", "decide('tie')", "Tie", show=True, id="review.pair.tie"),
    Binding("x", "decide('both_bad')", "Both bad", show=True, id="review.pair.both_bad"),
]

REVIEW_OWN_BINDINGS: list[Binding] = [
    Binding(
        "escape",
        "cancel_own",
        "Cancel",
        show=True,
        id="review.cancel_own",
        key_display="esc",
        tooltip="Leave your own answer unsaved and go back to choosing an annotator's",
    ),
]

REVIEW_HELP_BINDINGS: list[Binding] = [
    Binding("escape,q,question_mark,f1", "close", "Close", show=True, id="review.close_help", key_display="esc"),
]


def review_binding_groups() -> list[tuple[str, list[Binding]]]:
    """Every review binding with an id, by the place it applies (for the help screen and docs)."""
    return [
        ("Reviewing", REVIEW_BINDINGS),
        ("Your own ranking (rank datasets, after r)", REVIEW_RANK_BINDINGS + REVIEW_OWN_BINDINGS),
        ("Your own choice (pair datasets, after r)", REVIEW_PAIR_BINDINGS + REVIEW_OWN_BINDINGS),
        ("Help", REVIEW_HELP_BINDINGS),
    ]


def review_binding_ids() -> set[str]:
    return {b.id for _, group in review_binding_groups() for b in group if b.id}


def review_key(binding_id: str, keymap: dict[str, str]) -> str:
    """The first key a review binding answers to after the user's keymap (for hints on screen)."""
    for _, bindings in review_binding_groups():
        for binding in bindings:
            if binding.id == binding_id:
                return keymap.get(binding_id, binding.key).split(",")[0].strip()
    raise KeyError(binding_id)


# The review footer: most needed first (what is left out when the terminal is narrow) ...
REVIEW_FOOTER_PRIORITY: list[str] = [
    *(f"review.select_annotator_{n}" for n in range(1, 10)),
    "review.accept",
    *(f"review.rank.candidate_{n}" for n in range(1, 10)),
    "review.rank.save",
    *("review.pair.a_better", "review.pair.b_better", "review.pair.tie", "review.pair.both_bad"),
    "review.cancel_own",
    "review.own_answer",
    "review.next",
    "review.previous",
    "review.quit",
    "review.help",
    "review.rank.tie",
    "review.rank.clear",
    "review.note",
    "review.gold",
    "review.jump",
]
# ... and the order it shows them in: the bindings' own order.
REVIEW_FOOTER_ORDER: list[str] = [
    b.id for b in (*REVIEW_BINDINGS, *REVIEW_RANK_BINDINGS, *REVIEW_PAIR_BINDINGS, *REVIEW_OWN_BINDINGS) if b.id
]
