"""The review and adjudication app: walk a dataset's records with two or more answers
(most disputed first), see every annotator's answer side by side, and set the final one.

`run_review_app(store, dataset, reviewer, order, annotator)` is the entry point the CLI uses."""

from __future__ import annotations

from rlhf_tui.app.config import AppConfig
from store import PreferenceStore


def run_review_app(
    store: PreferenceStore,
    dataset: str,
    reviewer: str,
    order: str = "disputed",
    annotator: str | None = None,
    config: AppConfig | None = None,
) -> int:
    """Run the review app until the reviewer quits (blocks); the exit status (non-zero when
    it stopped on an error, whose one line Textual prints on exit)."""
    from rlhf_tui.app.review.app import ReviewApp

    app = ReviewApp(store, dataset, reviewer, order, annotator, config)
    app.run()
    return app.return_code or 0


__all__ = ["run_review_app"]
