"""The admin screen: progress per annotator, the dataset's completion, records over K,
the team now (each annotator's pace today and drafts pending; who holds which record,
since when) and the agreement figures of the dataset being annotated. The store reads
go through the store worker like every other call; the agreement figures (seconds on a
big dataset) are computed in a thread of their own, so neither the UI nor the
annotator's saves wait for them. Over the service a non-admin gets the service's
refusal instead.

From the keyboard: select an annotator in the team table (or a record in the leases
table), then x releases every record they hold, o sends one of their records back to
them (its id is asked for, or taken from the selected lease); both ask first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from rlhf_tui.app.admin.figures import AdminFigures, completion_text, counts_table, read_admin_figures
from rlhf_tui.app.admin.team_view import LEASE_COLUMNS, TEAM_COLUMNS, lease_rows, team_rows
from rlhf_tui.app.keymap import ADMIN_BINDINGS, first_key
from rlhf_tui.app.messages import StoreFailed
from rlhf_tui.app.safe_text import neutralise
from rlhf_tui.app.screens.confirm import ConfirmScreen
from rlhf_tui.app.screens.text_prompt import TextPromptScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import Dataset, PreferenceStore

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class AdminScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*ADMIN_BINDINGS]
    DEFAULT_CSS = """
    AdminScreen { align: center middle; }
    AdminScreen > VerticalScroll { width: 95%; max-width: 140; height: 95%; border: round $accent;
                                   background: $surface; padding: 0 1; }
    AdminScreen Static { width: 1fr; margin-bottom: 1; }
    AdminScreen .team-title { margin-bottom: 0; text-style: italic; }
    AdminScreen DataTable { height: auto; max-height: 12; width: auto; margin-bottom: 1; }
    """

    class FiguresLoaded(Message):
        def __init__(self, figures: AdminFigures) -> None:
            super().__init__()
            self.figures = figures

    class AgreementComputed(Message):
        def __init__(self, renderable: RenderableType) -> None:
            super().__init__()
            self.renderable = renderable

    class TeamChanged(Message):
        """A release or reopen went through: `text` says what changed."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self, dataset: Dataset, store: PreferenceStore, jobs: StoreJobQueue, keymap: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.store = store
        self.jobs = jobs
        self.keymap = keymap or {}
        self.figures: AdminFigures | None = None
        self.computing = False  # the agreement worker is running

    def compose(self):
        with VerticalScroll(can_focus=True) as box:
            box.border_title = Content("Admin · ") + Content(neutralise(self.dataset.name, one_line=True))
            keys = {name: first_key(f"admin.{name}", self.keymap) for name in ("refresh", "release", "reopen")}
            box.border_subtitle = Content(
                f"{keys['refresh']}: refresh · select an annotator: {keys['release']} release their records, "
                f"{keys['reopen']} reopen one · esc: close"
            )
            yield Static(Text("Reading the figures…", end=""), id="admin-completion")
            yield Static(id="admin-counts")
            yield Static(Text("Team now", style="bold", end=""), classes="team-title", id="admin-team-title")
            yield DataTable(id="admin-team", cursor_type="row", zebra_stripes=True)
            yield Static(Text("Records held now", style="bold", end=""), classes="team-title", id="admin-leases-title")
            yield DataTable(id="admin-leases", cursor_type="row", zebra_stripes=True)
            yield Static(id="admin-agreement")

    def on_mount(self) -> None:
        self.query_one("#admin-team", DataTable).add_columns(*TEAM_COLUMNS)
        self.query_one("#admin-leases", DataTable).add_columns(*LEASE_COLUMNS)
        self.show_team(False)
        self.query_one(VerticalScroll).focus()
        self.load_figures()

    def show_team(self, shown: bool) -> None:
        for selector in ("#admin-team", "#admin-leases", "#admin-team-title", "#admin-leases-title"):
            self.query_one(selector).display = shown

    def load_figures(self) -> None:
        store, name = self.store, self.dataset.name
        self.jobs.submit(
            self, "reading the admin figures", lambda: read_admin_figures(store, name), self.FiguresLoaded, tag="admin"
        )

    @on(FiguresLoaded)
    def show_figures(self, message: FiguresLoaded) -> None:
        figures = self.figures = message.figures
        self.query_one("#admin-completion", Static).update(completion_text(figures))
        counts = self.query_one("#admin-counts", Static)
        agreement = self.query_one("#admin-agreement", Static)
        if figures.refusal:
            counts.update(Text(figures.refusal, style="bold yellow", end=""))
            agreement.update(Text("", end=""))
            self.show_team(False)
            return
        counts.update(counts_table(figures))
        self.fill_team(figures)
        agreement.update(Text("Computing the agreement figures…", style="dim", end=""))
        self.computing = True
        self.compute_agreement(self.dataset.task, figures)

    @work(thread=True, exclusive=True, group="agreement", exit_on_error=False)
    def compute_agreement(self, task: str, figures: AdminFigures) -> None:
        from rlhf_tui.agreement_view import agreement_renderables, axis_renderables
        from store.stats.agreement import compute_agreement, rating_agreement

        renderable: RenderableType
        try:
            if task in ("rate", "thumbs"):  # ratings: agreement per axis
                renderable = Group(*axis_renderables(rating_agreement(figures.ratings)))
            else:
                report = compute_agreement(task, figures.rankings, reviews=figures.reviews)
                renderable = Group(*agreement_renderables(report))
        except Exception as exc:  # a bug in the figures must not take the app down: one line, the rest logged
            log.exception("computing agreement failed")
            renderable = Text(f"cannot compute the agreement figures: {type(exc).__name__}: {exc}", end="")
        self.post_message(self.AgreementComputed(renderable))

    @on(AgreementComputed)
    def show_agreement(self, message: AgreementComputed) -> None:
        self.computing = False
        self.query_one("#admin-agreement", Static).update(message.renderable)

    def fill_team(self, figures: AdminFigures) -> None:
        now = figures.read_at
        if now is None:
            return
        team, leases = self.query_one("#admin-team", DataTable), self.query_one("#admin-leases", DataTable)
        team_cursor, lease_cursor = team.cursor_row, leases.cursor_row
        team.clear()
        for activity, row in zip(figures.team, team_rows(figures.team, now)):
            team.add_row(*row, key=activity.annotator)
        leases.clear()
        for lease, row in zip(figures.leases, lease_rows(figures.leases, now)):
            leases.add_row(*row, key=f"{lease.record_id}:{lease.annotator}")
        self.query_one("#admin-leases-title", Static).update(
            Text(f"Records held now ({len(figures.leases):,})", style="bold", end="")
            if figures.leases
            else Text("Records held now: none", style="bold", end="")
        )
        self.show_team(True)
        leases.display = bool(figures.leases)
        if figures.team:
            team.move_cursor(row=min(team_cursor, len(figures.team) - 1))
            if self.focused is None or self.focused is self.query_one(VerticalScroll):
                team.focus()
        if figures.leases:
            leases.move_cursor(row=min(lease_cursor, len(figures.leases) - 1))

    # -- release and reopen ---------------------------------------------------------
    def selected(self) -> tuple[str | None, str | None]:
        """(annotator, external id) of the selected row: a lease when the leases table has the
        focus, else the annotator selected in the team table (and no record)."""
        figures = self.figures
        if figures is None or figures.refusal:
            return None, None
        leases = self.query_one("#admin-leases", DataTable)
        if self.focused is leases and figures.leases:
            lease = figures.leases[min(leases.cursor_row, len(figures.leases) - 1)]
            return lease.annotator, lease.external_id
        team = self.query_one("#admin-team", DataTable)
        if figures.team:
            return figures.team[min(team.cursor_row, len(figures.team) - 1)].annotator, None
        return None, None

    def action_release(self) -> None:
        who, _ = self.selected()
        if who is None:
            self.notify("Select an annotator first (nobody is in the team table).", markup=False)
            return
        figures = self.figures
        held = sum(1 for lease in figures.leases if lease.annotator == who) if figures else 0
        name, store = self.dataset.name, self.store
        shown_who, shown_name = neutralise(who, one_line=True), neutralise(name, one_line=True)

        def release(yes: bool | None) -> None:
            if yes:
                self.jobs.submit(
                    self,
                    f"releasing the records {shown_who} holds",
                    lambda: store.release_leases_of(name, who),
                    lambda count: self.TeamChanged(f"Released {count} record(s) {shown_who} held in {shown_name}."),
                    tag="admin-action",
                )

        self.app.push_screen(
            ConfirmScreen(
                "Release records",
                f"Release the {held} record(s) {shown_who} holds in {shown_name}? "
                "They go to other annotators at once; their drafts are kept.",
            ),
            release,
        )

    def action_reopen(self) -> None:
        who, external_id = self.selected()
        if who is None:
            self.notify("Select an annotator first (nobody is in the team table).", markup=False)
            return
        shown_who = neutralise(who, one_line=True)
        if external_id is not None:
            self.confirm_reopen(who, external_id)
            return

        def asked(answer: str | None) -> None:
            if answer:
                self.confirm_reopen(who, answer)

        self.app.push_screen(
            TextPromptScreen(
                "Reopen a record", f"Which record should go back to {shown_who}? Its id from the file (e.g. r17):"
            ),
            asked,
        )

    def confirm_reopen(self, who: str, external_id: str) -> None:
        store, name = self.store, self.dataset.name
        shown_who, shown_id = neutralise(who, one_line=True), neutralise(external_id, one_line=True)

        def reopen() -> str:
            record_id = store.find_record(name, external_id)
            if record_id is None:
                return f"No record {shown_id!r} in {neutralise(name, one_line=True)}."
            store.reopen_record(record_id, who)
            return f"Record {shown_id} is back with {shown_who}; their answer is kept in its history."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.jobs.submit(
                    self, f"reopening {shown_id} for {shown_who}", reopen, self.TeamChanged, tag="admin-action"
                )

        self.app.push_screen(
            ConfirmScreen(
                "Reopen a record",
                f"Reopen {shown_id} for {shown_who}? Their answer goes to history and the record comes back to them.",
            ),
            confirmed,
        )

    @on(TeamChanged)
    def team_changed(self, message: TeamChanged) -> None:
        self.notify(message.text, markup=False)
        self.action_refresh()

    def on_store_failed(self, message: StoreFailed) -> None:
        if message.tag == "admin-action":  # a release or reopen the store refused: one line, the screen stays
            message.stop()
            self.notify(message.text, severity="error", markup=False, timeout=8)
        elif message.tag == "admin":
            message.stop()  # shown here rather than as a toast
            self.query_one("#admin-completion", Static).update(Text(message.text, style="bold red", end=""))

    def action_refresh(self) -> None:
        self.query_one("#admin-completion", Static).update(Text("Reading the figures…", end=""))
        self.load_figures()

    def action_review(self) -> None:
        from rlhf_tui.app.review.embedded import review_screen

        reviewer = getattr(self.store, "user", "") or getattr(self.app, "annotator", "")
        self.app.push_screen(
            review_screen(self.app, self.store, self.jobs, self.dataset.name, str(reviewer), self.keymap)
        )

    def action_close(self) -> None:
        self.dismiss(None)
