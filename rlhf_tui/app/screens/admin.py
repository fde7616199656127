"""The admin screen: progress per annotator, the dataset's completion, records over K
and the agreement figures of the dataset being annotated. The store reads go through
the store worker like every other call; the agreement figures (seconds on a big
dataset) are computed in a thread of their own, so neither the UI nor the annotator's
saves wait for them. Over the service a non-admin gets the service's refusal instead."""

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
from textual.widgets import Static

from store import Dataset, PreferenceStore

from ..admin_figures import AdminFigures, completion_text, counts_table, read_admin_figures
from ..keymap import ADMIN_BINDINGS
from ..messages import StoreFailed
from ..store_jobs import StoreJobQueue

if TYPE_CHECKING:
    from store.stats.agreement import Submission

log = logging.getLogger(__name__)


class AdminScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [*ADMIN_BINDINGS]
    DEFAULT_CSS = """
    AdminScreen { align: center middle; }
    AdminScreen > VerticalScroll { width: 95%; max-width: 140; height: 95%; border: round $accent;
                                   background: $surface; padding: 0 1; }
    AdminScreen Static { width: 1fr; margin-bottom: 1; }
    """

    class FiguresLoaded(Message):
        def __init__(self, figures: AdminFigures) -> None:
            super().__init__()
            self.figures = figures

    class AgreementComputed(Message):
        def __init__(self, renderable: RenderableType) -> None:
            super().__init__()
            self.renderable = renderable

    def __init__(self, dataset: Dataset, store: PreferenceStore, jobs: StoreJobQueue) -> None:
        super().__init__()
        self.dataset = dataset
        self.store = store
        self.jobs = jobs
        self.figures: AdminFigures | None = None
        self.computing = False  # the agreement worker is running

    def compose(self):
        with VerticalScroll(can_focus=True) as box:
            box.border_title = Content("Admin · ") + Content(self.dataset.name)
            box.border_subtitle = Content("r: refresh · esc: close")
            yield Static(Text("Reading the figures…", end=""), id="admin-completion")
            yield Static(id="admin-counts")
            yield Static(id="admin-agreement")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.load_figures()

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
            return
        counts.update(counts_table(figures))
        agreement.update(Text("Computing the agreement figures…", style="dim", end=""))
        self.computing = True
        self.compute_agreement(self.dataset.task, figures.rankings)

    @work(thread=True, exclusive=True, group="agreement", exit_on_error=False)
    def compute_agreement(self, task: str, rankings: list[Submission]) -> None:
        from store.stats.agreement import compute_agreement

        from ...agreement_view import agreement_renderables

        renderable: RenderableType
        try:
            renderable = Group(*agreement_renderables(compute_agreement(task, rankings)))
        except Exception as exc:  # a bug in the figures must not take the app down: one line, the rest logged
            log.exception("computing agreement failed")
            renderable = Text(f"cannot compute the agreement figures: {type(exc).__name__}: {exc}", end="")
        self.post_message(self.AgreementComputed(renderable))

    @on(AgreementComputed)
    def show_agreement(self, message: AgreementComputed) -> None:
        self.computing = False
        self.query_one("#admin-agreement", Static).update(message.renderable)

    def on_store_failed(self, message: StoreFailed) -> None:
        if message.tag == "admin":
            message.stop()  # shown here rather than as a toast
            self.query_one("#admin-completion", Static).update(Text(message.text, style="bold red", end=""))

    def action_refresh(self) -> None:
        self.query_one("#admin-completion", Static).update(Text("Reading the figures…", end=""))
        self.load_figures()

    def action_close(self) -> None:
        self.dismiss(None)
