"""The review screen opened from the annotation app's admin screen (`v`), on the app's own
store worker: quitting it goes back to the admin screen once every review is saved."""

from __future__ import annotations

from textual.app import App
from textual.timer import Timer

from rlhf_tui.app.review.keys import review_binding_ids
from rlhf_tui.app.review.screen import ReviewContext, ReviewScreen
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import PreferenceStore


class EmbeddedReviewHost:
    """What the review screen asks of its host, answered by the annotation app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._closing: Timer | None = None

    def record_rendered(self, record_id: int | None) -> None:
        pass  # the annotation app's start-up tuning and benchmarks watch its own records only

    def quit_when_saved(self) -> None:
        if self._closing is not None:
            return
        jobs: StoreJobQueue = self.app.jobs  # type: ignore[attr-defined]

        def close_when_saved() -> None:
            if jobs.pending == 0 and self._closing is not None:
                self._closing.stop()
                self.app.pop_screen()

        self._closing = self.app.set_interval(0.05, close_when_saved)

    def interrupt(self) -> None:
        self.quit_when_saved()


def review_screen(
    app: App, store: PreferenceStore, jobs: StoreJobQueue, dataset: str, reviewer: str, keymap: dict[str, str]
) -> ReviewScreen:
    """A review screen of `dataset` (most disputed first) hosted by the annotation app."""
    review_keys = {key: keys for key, keys in keymap.items() if key in review_binding_ids()}
    return ReviewScreen(ReviewContext(store, jobs, EmbeddedReviewHost(app), dataset, reviewer, keymap=review_keys))
