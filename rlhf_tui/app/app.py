"""The Textual application: opens a dataset (or offers the choice), runs the store
worker, applies the user's keymap, and quits only once everything is saved."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.worker import get_current_worker

from rlhf_tui.app.admin import AdminScreen
from rlhf_tui.app.annotate.pair import PairScreen
from rlhf_tui.app.annotate.rank import RankScreen
from rlhf_tui.app.annotate.rate import RateScreen
from rlhf_tui.app.annotate.screen import AnnotateContext, AnnotateScreen
from rlhf_tui.app.annotate.thumbs import ThumbsScreen
from rlhf_tui.app.config import AppConfig
from rlhf_tui.app.keymap import APP_BINDINGS
from rlhf_tui.app.leaving import left_at_once_message, resent_notice
from rlhf_tui.app.messages import DatasetLoaded, KeptAnswersSent, ServiceConnectionChanged, StoreDrained, StoreFailed
from rlhf_tui.app.screens import DatasetPickerScreen, HelpScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import Dataset, PreferenceStore
from store.service.client import ServiceClient
from store.service.unsent import ResendReport, UnsentAnswers


class AnnotationApp(App[None]):
    TITLE = "rlhf-tui annotate"
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS]
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        store: PreferenceStore,
        annotator: str,
        dataset: str | None = None,
        config: AppConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        tune_gc: bool = True,
        unsent: UnsentAnswers | None = None,
    ) -> None:
        """`unsent`: where answers wait until the service has them (over the service; default:
        the user's state folder, see `store.service.unsent`)."""
        super().__init__()
        self.store = store
        self.annotator = annotator
        self.dataset_name = dataset
        self.config = config or AppConfig()
        self.clock = clock
        self.jobs = StoreJobQueue()
        self.quitting = False
        self.service_lost = False  # the store service is gone; the store worker waits for it to come back
        self.rendered_records = 0  # how many records have been shown (tests and the benchmark watch it)
        self.on_record_rendered: Callable[[int | None], None] | None = None
        self.tune_gc = tune_gc  # tests turn it off: gc.freeze is process-wide
        self.unsent = unsent
        if self.unsent is None and isinstance(store, ServiceClient):
            self.unsent = UnsentAnswers.for_service(store.socket_path)

    def on_mount(self) -> None:
        self.set_keymap(self.config.keymap)
        # Wait for a lost service as long as it takes: the queued answers are sent, in order, once it is back.
        self.store.watch_connection(self.connection_changed)
        self.run_store_jobs()
        if self.unsent is not None:  # first, so that they land before anything given in this session
            store, unsent = self.store, self.unsent
            self.jobs.submit(
                self, "sending the answers kept from last time", lambda: unsent.send_kept(store), KeptAnswersSent
            )
        if self.dataset_name:
            self.open_dataset(self.dataset_name)
        else:
            self.push_screen(DatasetPickerScreen(self.store, self.jobs), self.open_dataset)

    def connection_changed(self, connected: bool) -> None:
        """Called by the service client in the store worker thread."""
        self.post_message(ServiceConnectionChanged(connected))

    @work(thread=True, exclusive=True, group="store", exit_on_error=False)
    def run_store_jobs(self) -> None:
        """The one thread that talks to the store (see store_jobs.py for why one)."""
        worker = get_current_worker()
        self.jobs.serve(lambda: worker.is_cancelled)

    def on_unmount(self) -> None:
        self.jobs.stop()

    # -- datasets ------------------------------------------------------------------
    def open_dataset(self, name: str | None) -> None:
        if name:
            store = self.store
            self.jobs.submit(self, f"opening dataset {name!r}", lambda: store.get_dataset(name), DatasetLoaded)

    def on_kept_answers_sent(self, message: KeptAnswersSent) -> None:
        report: ResendReport = message.report
        notice = resent_notice(report)
        if notice:
            self.notify(notice, severity="warning" if report.set_aside else "information", markup=False, timeout=12)

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        dataset: Dataset = message.dataset
        screen_class = {"pair": PairScreen, "rate": RateScreen, "thumbs": ThumbsScreen}.get(dataset.task, RankScreen)
        identity = self.identity()
        self.sub_title = f"{dataset.name} · {dataset.task} · {identity}"
        context = AnnotateContext(
            self.store, self.jobs, self, self.annotator, self.config, self.clock, identity, unsent=self.unsent
        )
        self.push_screen(screen_class(dataset, context))

    def identity(self) -> str:
        """Who the answers are recorded as: over the service, the name it knows us by."""
        return self.store.caller().user or self.annotator

    # -- keys everywhere --------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        task = self.screen.task_kind if isinstance(self.screen, AnnotateScreen) else None
        self.push_screen(HelpScreen(self.config.keymap, task))

    def action_admin(self) -> None:
        """Progress and agreement of the dataset being annotated (not from pop-ups)."""
        if isinstance(self.screen, AnnotateScreen):
            self.push_screen(AdminScreen(self.screen.dataset, self.store, self.jobs, self.config.keymap))

    async def action_quit(self) -> None:
        """Quit once the pending saves, the draft on screen and the lease release have run."""
        if self.quitting:
            return
        self.quitting = True
        if self.service_lost:
            self.notify(
                "Quitting once the store service is back and your answers are sent. To leave now, press ctrl+c: "
                "answers not yet sent are kept on this computer and sent the next time you open the app.",
                markup=False,
                timeout=30,
            )
        for screen in self.screen_stack:
            if isinstance(screen, AnnotateScreen):
                screen.save_before_quit()
        store, who = self.store, self.annotator
        self.jobs.submit(self, "releasing your records", lambda: store.release_all_leases(who))
        self.jobs.submit(self, "finishing", lambda: None, lambda _: StoreDrained())

    async def action_interrupt(self) -> None:
        """Ctrl-C: quit like q (the draft saved, records released); again while that waits
        (on a lost service, say): quit at once. Over the service the answers not yet
        acknowledged are in the local journal already, and go the next time."""
        if not self.quitting:
            await self.action_quit()
            return
        if self.unsent is not None and isinstance(self.store, ServiceClient):
            self.store.give_up()  # the store worker stops waiting, so the process can end now
            message = left_at_once_message(self.unsent.sent_now, self.unsent.kept(), self.unsent.folder)
        else:
            unsaved = self.jobs.pending
            message = f"Quit at once: {unsaved} store call(s) had not run, so answers not yet saved are lost."
        self.exit(return_code=130, message=Text(message))

    def on_service_connection_changed(self, message: ServiceConnectionChanged) -> None:
        self.service_lost = not message.connected
        for screen in self.screen_stack:
            if isinstance(screen, AnnotateScreen):
                screen.refresh_status()

    def on_store_drained(self, message: StoreDrained) -> None:
        self.exit()

    def on_store_failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False, timeout=8)
        # A refusal (the store will not serve this user) or a dataset that cannot open: say why, stop, non-zero.
        if message.refused or (message.text.startswith("error while opening dataset") and not self.screen_stack[1:]):
            self.exit(return_code=1, message=message.text)

    # -- rendering hooks ----------------------------------------------------------------
    def record_rendered(self, record_id: int | None) -> None:
        self.rendered_records += 1
        if self.on_record_rendered is not None:
            self.on_record_rendered(record_id)
        if self.rendered_records == 1 and self.tune_gc:
            freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Keep the garbage collector off the objects built at start-up (Textual, DuckDB, the
    first screen): a full collection over them paused the app for 100+ ms now and then."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)  # rarer young collections; each stays well under a frame
