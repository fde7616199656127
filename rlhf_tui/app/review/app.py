"""The review app: one review screen on a dataset's review queue, the store worker that
runs every store call, and a quit that waits until every review is saved."""

from __future__ import annotations

import gc
from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import App
from textual.worker import get_current_worker

from rlhf_tui.app.config import AppConfig
from rlhf_tui.app.messages import StoreDrained, StoreFailed
from rlhf_tui.app.review.keys import review_binding_ids
from rlhf_tui.app.review.screen import ReviewContext, ReviewScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import PreferenceStore
from store.service.client import ServiceClient


class ReviewApp(App[None]):
    TITLE = "rlhf-tui review"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        store: PreferenceStore,
        dataset: str,
        reviewer: str,
        order: str = "disputed",
        annotator: str | None = None,
        config: AppConfig | None = None,
        tune_gc: bool = True,
    ) -> None:
        super().__init__()
        self.store = store
        self.dataset_name = dataset
        self.reviewer = reviewer
        self.order = order
        self.annotator = annotator
        self.config = config or AppConfig()
        self.jobs = StoreJobQueue()
        self.quitting = False
        self.rendered_records = 0  # how many records have been shown (tests and the benchmark watch it)
        self.on_record_rendered: Callable[[int | None], None] | None = None
        self.tune_gc = tune_gc  # tests turn it off: gc.freeze is process-wide

    def on_mount(self) -> None:
        keymap = {key: keys for key, keys in self.config.keymap.items() if key in review_binding_ids()}
        self.set_keymap(keymap)
        self.run_store_jobs()
        context = ReviewContext(
            self.store,
            self.jobs,
            self,
            self.dataset_name,
            self.reviewer,
            self.order,
            self.annotator,
            keymap,
            ahead=max(2, self.config.prefetch),
        )
        self.push_screen(ReviewScreen(context))

    @work(thread=True, exclusive=True, group="store", exit_on_error=False)
    def run_store_jobs(self) -> None:
        """The one thread that talks to the store (see store_jobs.py for why one)."""
        worker = get_current_worker()
        self.jobs.serve(lambda: worker.is_cancelled)

    def on_unmount(self) -> None:
        self.jobs.stop()

    # -- what the screen asks of the app ---------------------------------------------------
    def record_rendered(self, record_id: int | None) -> None:
        self.rendered_records += 1
        if self.on_record_rendered is not None:
            self.on_record_rendered(record_id)
        if self.rendered_records == 1 and self.tune_gc:
            # Keep the collector off the start-up objects: a full collection over them paused the app now and then.
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 20, 20)  # rarer young collections; each stays well under a frame

    def quit_when_saved(self) -> None:
        if self.quitting:
            return
        self.quitting = True
        self.jobs.submit(self, "finishing", lambda: None, lambda _: StoreDrained())

    def interrupt(self) -> None:
        if not self.quitting:
            self.quit_when_saved()
            return
        unsent = self.jobs.pending
        if isinstance(self.store, ServiceClient):
            self.store.give_up()  # a call waiting for a lost service ends now, so the process can
        self.exit(
            return_code=130, message=Text(f"Quit at once: {unsent} store call(s) had not run; unsaved reviews lost.")
        )

    def on_store_drained(self, message: StoreDrained) -> None:
        self.exit()

    def on_store_failed(self, message: StoreFailed) -> None:
        # A refusal (not an admin over the service) or a review that cannot start: say why, stop, non-zero.
        if message.refused or message.tag == "start":
            self.exit(return_code=1, message=Text(message.text))
            return
        self.notify(message.text, severity="error", markup=False, timeout=8)
