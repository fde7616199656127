"""The annotator's progress on the status line: read in the store worker (one read in
flight at a time), plus the submissions made here that the last read has not seen."""

from __future__ import annotations

import dataclasses

from textual.message_pump import MessagePump

from rlhf_tui.app.messages import ProgressLoaded
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import AnnotatorProgress, PreferenceStore


class ProgressTracker:
    def __init__(
        self, *, store: PreferenceStore, jobs: StoreJobQueue, owner: MessagePump, dataset: str, annotator: str
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.owner = owner  # receives ProgressLoaded, and StoreFailed with tag "progress"
        self.dataset = dataset
        self.annotator = annotator
        self.progress: AnnotatorProgress | None = None  # the last read
        self.submitted_here = 0  # first-time submissions in this session
        self.discarded_here = 0  # first-time discards in this session
        self.in_flight = False
        self.stale = False  # asked again while a read was in flight
        self.outdated = False  # an answer was saved since the last read was asked for
        self.submitted_when_asked = 0
        self.discarded_when_asked = 0

    def request(self) -> None:
        if self.in_flight:
            self.stale = True
            return
        self.in_flight = True
        self.outdated = False
        self.submitted_when_asked = self.submitted_here
        self.discarded_when_asked = self.discarded_here
        store, name, who = self.store, self.dataset, self.annotator
        self.jobs.submit(
            self.owner, "reading progress", lambda: store.progress(name, who), ProgressLoaded, tag="progress"
        )

    def loaded(self, progress: AnnotatorProgress) -> None:
        self.in_flight = False
        self.progress = progress

    def failed(self) -> None:
        self.in_flight = False

    def request_if_stale(self) -> None:
        if self.stale:
            self.stale = False
            self.request()

    def request_if_outdated(self) -> None:
        if self.outdated:
            self.request()

    def answer_saved(self) -> None:
        self.outdated = True  # re-read on the next status tick: not once per keypress

    def count_submission(self) -> None:
        self.submitted_here += 1

    def count_discard(self) -> None:
        self.discarded_here += 1

    def shown(self) -> AnnotatorProgress | None:
        """The last read, counting the first-time answers it has not seen yet."""
        progress = self.progress
        if progress is None:
            return None
        submitted = self.submitted_here - self.submitted_when_asked
        discarded = self.discarded_here - self.discarded_when_asked
        return dataclasses.replace(
            progress,
            submitted=progress.submitted + submitted,
            discarded=progress.discarded + discarded,
            remaining_for_annotator=max(0, progress.remaining_for_annotator - submitted - discarded),
        )
