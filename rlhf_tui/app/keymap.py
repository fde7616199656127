"""Every key binding of the annotation app, each with an id users remap in the config
file (`[keymap]` table, see `config.py`), a description and an explicit footer `show`.

Ids are stable: `app.*` anywhere, `annotate.*` in every mode, `rank.*` in rank mode,
`pair.*` in pair mode, `rate.*` in rate mode, `thumbs.*` in thumbs mode, `picker.*` on
the dataset picker, `admin.*` on the admin screen, `dialog.*` in pop-ups."""

from __future__ import annotations

from textual.binding import Binding

_RANK_GROUP = Binding.Group("rank", compact=True)
_RATE_GROUP = Binding.Group("rate", compact=True)

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit", "Quit", show=True, id="app.quit"),
    Binding("question_mark,f1", "help", "Help", show=True, id="app.help", key_display="?"),
    Binding(
        "A",
        "admin",
        "Admin",
        show=False,
        id="app.admin",
        tooltip="Progress per annotator and agreement figures of this dataset (admins, over the service)",
    ),
    Binding(
        "ctrl+c",
        "interrupt",
        "Quit",
        show=False,
        priority=True,
        id="app.interrupt",
        tooltip="Save the draft and quit, like q; pressed again while quitting: quit at once "
        "(over a team service, answers not yet acknowledged are kept on this computer and sent next time)",
    ),
]

PICKER_BINDINGS: list[Binding] = [
    # Priority: the focused list would otherwise take enter, and the footer would not offer it.
    Binding(
        "enter",
        "choose",
        "Annotate",
        show=True,
        priority=True,
        id="picker.choose",
        key_display="⏎",
        tooltip="Open the highlighted dataset",
    ),
]

ANNOTATE_BINDINGS: list[Binding] = [
    Binding(
        "s", "skip", "Skip", show=True, id="annotate.skip", tooltip="Skip the record: it comes back after the others"
    ),
    Binding("u", "back", "Back", show=True, id="annotate.back", tooltip="Go back to the previous record to amend it"),
    Binding(
        "d",
        "discard",
        "Discard",
        show=True,
        id="annotate.discard",
        tooltip="Discard the record, with an optional reason",
    ),
    Binding(
        "c",
        "comment",
        "Note",
        show=True,
        id="annotate.comment",
        tooltip="Add a comment or rationale to this record",
    ),
    Binding(
        "p",
        "toggle_prompt",
        "Prompt",
        show=True,
        id="annotate.toggle_prompt",
        tooltip="Collapse the prompt to one line (the answers get the room) or show it again",
    ),
    Binding(
        "g", "guidelines", "Guide", show=True, id="annotate.guidelines", tooltip="Show or hide the dataset's guidelines"
    ),
    Binding(
        "e",
        "expand",
        "Expand",
        show=True,
        id="annotate.expand",
        tooltip="Show long texts and earlier chat turns in full (the first 20,000 characters are shown)",
    ),
    Binding(
        "slash",
        "jump",
        "Go to",
        show=True,
        id="annotate.jump",
        key_display="/",
        tooltip="Go to a record by its id from the file (e.g. r17) to amend it; annotators over the service "
        "find the records they answered",
    ),
    Binding(
        "w",
        "write",
        "Write",
        show=True,
        id="annotate.write",
        tooltip="Write your own answer (datasets with written_answers): starts from the best candidate's text; "
        "ranked first unless you say otherwise",
    ),
]


def ranking_bindings(id_prefix: str, group: Binding.Group) -> list[Binding]:
    """Digits 1-9 rank a candidate and t ties: the same keys wherever a ranking is given
    (rank mode, a reviewer's own ranking), under ids `{id_prefix}.candidate_N` and `{id_prefix}.tie`."""
    return [
        *(
            Binding(
                str(n),
                f"rank({n - 1})",
                f"Rank {n}",
                show=True,
                id=f"{id_prefix}.candidate_{n}",
                group=group,
                tooltip=f"Give candidate {n} the next rank; again to take it out",
            )
            for n in range(1, 10)
        ),
        Binding(
            "t", "tie", "Tie", show=True, id=f"{id_prefix}.tie", tooltip="The next candidate shares the previous rank"
        ),
    ]


def scroll_card_binding(mode: str) -> Binding:
    """Tab to a card to scroll it (rank and pair mode: rate and thumbs mode use tab themselves)."""
    return Binding(
        "tab",
        "scroll_cards",
        "Scroll cards",
        show=True,
        id=f"{mode}.focus_next",
        key_display="⇥",
        tooltip="Move to the next card (or the prompt); then ↑ ↓ pgup pgdn home end scroll it",
    )


RANK_BINDINGS: list[Binding] = [
    *ranking_bindings("rank", _RANK_GROUP),
    Binding("backspace", "clear", "Clear", show=True, id="rank.clear", tooltip="Clear the ranking"),
    Binding(
        "enter",
        "submit",
        "Submit",
        show=True,
        id="rank.submit",
        tooltip="Submit once every candidate is ranked (the last one is ranked for you)",
    ),
    scroll_card_binding("rank"),
]

PAIR_BINDINGS: list[Binding] = [
    Binding("1,left,a", "decide('a')", "A better", show=True, id="pair.a_better", key_display="1/←"),
    Binding("2,right,b", "decide('b')", "B better", show=True, id="pair.b_better", key_display="2/→"),
    Binding("t", "decide('tie')", "Tie", show=True, id="pair.tie"),
    Binding("x", "decide('both_bad')", "Both bad", show=True, id="pair.both_bad"),
    scroll_card_binding("pair"),
]

RATE_BINDINGS: list[Binding] = [
    *(
        Binding(
            str(n),
            f"rate_char('{n}')",
            f"Rate {n}",
            show=n > 0,
            id=f"rate.value_{n}",
            group=_RATE_GROUP,
            tooltip=f"Type {n} into the highlighted rating (scales above 9 take two digits); "
            "the highlight then moves to the next one",
        )
        for n in range(10)
    ),
    Binding(
        "minus",
        "rate_char('-')",
        "Minus",
        show=False,
        id="rate.minus",
        tooltip="Start a rating below zero (axes whose scale goes below 0)",
    ),
    Binding(
        "tab",
        "move_cell(1)",
        "Next",
        show=True,
        priority=True,
        id="rate.next",
        key_display="⇥",
        tooltip="Next rating: the next axis, after the last one the next candidate",
    ),
    Binding("shift+tab", "move_cell(-1)", "Previous", show=False, priority=True, id="rate.previous"),
    Binding("right", "move_axis(1)", "Next axis", show=False, priority=True, id="rate.next_axis"),
    Binding("left", "move_axis(-1)", "Previous axis", show=False, priority=True, id="rate.previous_axis"),
    Binding("down", "move_candidate(1)", "Next candidate", show=False, priority=True, id="rate.next_candidate"),
    Binding("up", "move_candidate(-1)", "Previous candidate", show=False, priority=True, id="rate.previous_candidate"),
    Binding("backspace", "clear", "Clear", show=True, id="rate.clear", tooltip="Clear the highlighted rating"),
    Binding(
        "enter",
        "submit",
        "Submit",
        show=True,
        id="rate.submit",
        tooltip="Submit once every required rating is given (and every rank, with rank_too)",
    ),
]

THUMBS_BINDINGS: list[Binding] = [
    Binding(
        "y,plus",
        "thumb(1)",
        "Good",
        show=True,
        id="thumbs.good",
        key_display="y/+",
        tooltip="The highlighted candidate is good; the highlight moves to the next",
    ),
    Binding(
        "n,minus",
        "thumb(0)",
        "Bad",
        show=True,
        id="thumbs.bad",
        key_display="n/-",
        tooltip="The highlighted candidate is bad; the highlight moves to the next",
    ),
    Binding(
        "tab,down,right",
        "move_candidate(1)",
        "Next",
        show=False,
        priority=True,
        id="thumbs.next",
        tooltip="Highlight the next candidate",
    ),
    Binding(
        "shift+tab,up,left",
        "move_candidate(-1)",
        "Previous",
        show=False,
        priority=True,
        id="thumbs.previous",
        tooltip="Highlight the previous candidate",
    ),
    *(
        Binding(
            str(n),
            f"highlight({n - 1})",
            f"Candidate {n}",
            show=False,
            id=f"thumbs.candidate_{n}",
            tooltip=f"Highlight candidate {n}",
        )
        for n in range(1, 10)
    ),
    Binding("backspace", "clear", "Clear", show=True, id="thumbs.clear", tooltip="Clear the highlighted thumb"),
    Binding(
        "enter", "submit", "Submit", show=True, id="thumbs.submit", tooltip="Submit once every candidate has a thumb"
    ),
]

# What the annotate screen's footer keeps when not every key fits, most needed first.
FOOTER_PRIORITY: list[str] = [
    *(f"rank.candidate_{n}" for n in range(1, 10)),
    *(f"rate.value_{n}" for n in range(10)),
    "thumbs.good",
    "thumbs.bad",
    "pair.a_better",
    "pair.b_better",
    "rank.submit",
    "rate.submit",
    "thumbs.submit",
    "rate.next",
    "pair.tie",
    "pair.both_bad",
    "rank.tie",
    "annotate.skip",
    "app.quit",
    "app.help",
    "annotate.write",
    "annotate.back",
    "annotate.discard",
    "annotate.comment",
    "annotate.toggle_prompt",
    "annotate.guidelines",
    "annotate.expand",
    "annotate.jump",
    "rank.clear",
    "rank.focus_next",  # the cards' titles say how to scroll them when the footer has no room
    "pair.focus_next",
    "rate.clear",
    "thumbs.clear",
]

# The order the annotate screen's footer shows its keys in: the answer first, quit and help last.
FOOTER_ORDER: list[str] = [
    *(f"rank.candidate_{n}" for n in range(1, 10)),
    "rank.tie",
    "rank.clear",
    "rank.submit",
    *(f"rate.value_{n}" for n in range(10)),
    "rate.next",
    "rate.clear",
    "rate.submit",
    "thumbs.good",
    "thumbs.bad",
    "thumbs.clear",
    "thumbs.submit",
    "pair.a_better",
    "pair.b_better",
    "pair.tie",
    "pair.both_bad",
    "annotate.write",
    "annotate.skip",
    "annotate.back",
    "annotate.discard",
    "annotate.comment",
    "annotate.toggle_prompt",
    "annotate.guidelines",
    "annotate.expand",
    "annotate.jump",
    "rank.focus_next",
    "pair.focus_next",
    "app.quit",
    "app.help",
]

DIALOG_BINDINGS: list[Binding] = [
    Binding("escape", "cancel", "Cancel", show=True, id="dialog.cancel"),
]

WRITTEN_BINDINGS: list[Binding] = [
    Binding("ctrl+s", "save", "Save", show=True, id="dialog.save_written", tooltip="Save your written answer"),
]

CONFIRM_BINDINGS: list[Binding] = [
    Binding("y,enter", "confirm", "Yes", show=True, id="dialog.confirm", key_display="y"),
    Binding("n,escape", "cancel", "No", show=True, id="dialog.decline", key_display="n/esc"),
]

ADMIN_BINDINGS: list[Binding] = [
    Binding("r", "refresh", "Refresh", show=True, id="admin.refresh", tooltip="Read the figures again"),
    Binding(
        "x",
        "release",
        "Release",
        show=True,
        id="admin.release",
        tooltip="Free every record the selected annotator holds now (asks first); their drafts are kept",
    ),
    Binding(
        "o",
        "reopen",
        "Reopen",
        show=True,
        id="admin.reopen",
        tooltip="Send a record back to the selected annotator (asks for its id, then asks first): "
        "their answer goes to history",
    ),
    Binding(
        "v",
        "review",
        "Review",
        show=True,
        id="admin.review",
        tooltip="Review and adjudicate this dataset's records with two or more answers, most disputed first",
    ),
    Binding("escape,q,A", "close", "Close", show=True, id="admin.close", key_display="esc"),
]

HELP_BINDINGS: list[Binding] = [
    Binding("escape,q,question_mark,f1", "close", "Close", show=True, id="dialog.close_help", key_display="esc"),
]

# Keys Textual itself provides and the help lists too (not remappable through our ids).
BUILT_IN_KEYS: list[tuple[str, str]] = [
    ("tab / shift+tab", "Move focus between the prompt and the candidate cards (rank and pair mode)"),
    ("↑ ↓ pgup pgdn home end", "Scroll the focused prompt or card"),
]


MODE_PLACES = {"rank": "Rank mode", "pair": "Pair mode", "rate": "Rate mode", "thumbs": "Thumbs mode"}


def all_binding_groups() -> list[tuple[str, list[Binding]]]:
    """Every binding with an id, by the place it applies (for the help screen and docs)."""
    return [
        ("Anywhere", APP_BINDINGS),
        ("Annotating (every mode)", ANNOTATE_BINDINGS),
        ("Rank mode", RANK_BINDINGS),
        ("Pair mode", PAIR_BINDINGS),
        ("Rate mode", RATE_BINDINGS),
        ("Thumbs mode", THUMBS_BINDINGS),
        ("Dataset list", PICKER_BINDINGS),
        ("Admin screen", ADMIN_BINDINGS),
        ("Pop-ups", DIALOG_BINDINGS + CONFIRM_BINDINGS + WRITTEN_BINDINGS + HELP_BINDINGS),
    ]


def binding_ids() -> set[str]:
    return {b.id for _, group in all_binding_groups() for b in group if b.id}


def first_key(binding_id: str, keymap: dict[str, str]) -> str:
    """The first key a binding answers to after the user's keymap (for hints on screen)."""
    for _, bindings in all_binding_groups():
        for binding in bindings:
            if binding.id == binding_id:
                return keymap.get(binding_id, binding.key).split(",")[0].strip()
    raise KeyError(binding_id)


def keys_for(binding: Binding, keymap: dict[str, str]) -> list[str]:
    """The keys a binding answers to after the user's keymap (Textual key names)."""
    keys = keymap.get(binding.id or "", binding.key)
    return [k.strip() for k in keys.split(",") if k.strip()]
