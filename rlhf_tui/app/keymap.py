"""Every key binding of the annotation app, each with an id users remap in the config
file (`[keymap]` table, see `config.py`), a description and an explicit footer `show`.

Ids are stable: `app.*` anywhere, `annotate.*` in both modes, `rank.*` in rank mode,
`pair.*` in pair mode, `picker.*` on the dataset picker, `admin.*` on the admin screen,
`dialog.*` in pop-ups."""

from __future__ import annotations

from textual.binding import Binding

_RANK_GROUP = Binding.Group("rank", compact=True)

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
        tooltip="Save the draft and quit, like q; pressed again while quitting: quit at once, unsent answers lost",
    ),
]

PICKER_BINDINGS: list[Binding] = [
    Binding("enter", "choose", "Annotate", show=True, id="picker.choose"),
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
]

RANK_BINDINGS: list[Binding] = [
    *(
        Binding(
            str(n),
            f"rank({n - 1})",
            f"Rank {n}",
            show=True,
            id=f"rank.candidate_{n}",
            group=_RANK_GROUP,
            tooltip=f"Give candidate {n} the next rank; again to take it out",
        )
        for n in range(1, 10)
    ),
    Binding("t", "tie", "Tie", show=True, id="rank.tie", tooltip="The next candidate shares the previous rank"),
    Binding("backspace", "clear", "Clear", show=True, id="rank.clear", tooltip="Clear the ranking"),
    Binding(
        "enter",
        "submit",
        "Submit",
        show=True,
        id="rank.submit",
        tooltip="Submit once every candidate is ranked (the last one is ranked for you)",
    ),
]

PAIR_BINDINGS: list[Binding] = [
    Binding("1,left,a", "decide('a')", "A better", show=True, id="pair.a_better", key_display="1/←"),
    Binding("2,right,b", "decide('b')", "B better", show=True, id="pair.b_better", key_display="2/→"),
    Binding("t", "decide('tie')", "Tie", show=True, id="pair.tie"),
    Binding("x", "decide('both_bad')", "Both bad", show=True, id="pair.both_bad"),
]

# What the annotate screen's footer keeps when not every key fits, most needed first.
FOOTER_PRIORITY: list[str] = [
    *(f"rank.candidate_{n}" for n in range(1, 10)),
    "pair.a_better",
    "pair.b_better",
    "rank.submit",
    "pair.tie",
    "pair.both_bad",
    "rank.tie",
    "annotate.skip",
    "app.quit",
    "app.help",
    "annotate.back",
    "annotate.discard",
    "annotate.comment",
    "annotate.toggle_prompt",
    "annotate.guidelines",
    "annotate.expand",
    "annotate.jump",
    "rank.clear",
]

# The order the annotate screen's footer shows its keys in: the answer first, quit and help last.
FOOTER_ORDER: list[str] = [
    *(f"rank.candidate_{n}" for n in range(1, 10)),
    "rank.tie",
    "rank.clear",
    "rank.submit",
    "pair.a_better",
    "pair.b_better",
    "pair.tie",
    "pair.both_bad",
    "annotate.skip",
    "annotate.back",
    "annotate.discard",
    "annotate.comment",
    "annotate.toggle_prompt",
    "annotate.guidelines",
    "annotate.expand",
    "annotate.jump",
    "app.quit",
    "app.help",
]

DIALOG_BINDINGS: list[Binding] = [
    Binding("escape", "cancel", "Cancel", show=True, id="dialog.cancel"),
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
    Binding("escape,q,A", "close", "Close", show=True, id="admin.close", key_display="esc"),
]

HELP_BINDINGS: list[Binding] = [
    Binding("escape,q,question_mark,f1", "close", "Close", show=True, id="dialog.close_help", key_display="esc"),
]

# Keys Textual itself provides and the help lists too (not remappable through our ids).
BUILT_IN_KEYS: list[tuple[str, str]] = [
    ("tab / shift+tab", "Move focus between the prompt and the candidate cards"),
    ("↑ ↓ pgup pgdn home end", "Scroll the focused prompt or card"),
]


def all_binding_groups() -> list[tuple[str, list[Binding]]]:
    """Every binding with an id, by the place it applies (for the help screen and docs)."""
    return [
        ("Anywhere", APP_BINDINGS),
        ("Annotating (both modes)", ANNOTATE_BINDINGS),
        ("Rank mode", RANK_BINDINGS),
        ("Pair mode", PAIR_BINDINGS),
        ("Dataset list", PICKER_BINDINGS),
        ("Admin screen", ADMIN_BINDINGS),
        ("Pop-ups", DIALOG_BINDINGS + CONFIRM_BINDINGS + HELP_BINDINGS),
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
