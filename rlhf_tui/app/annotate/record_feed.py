"""The store calls behind an annotation session: records fetched ahead, the answers of
earlier sessions, a previous record to amend, leases renewed and released. Each is a
job for the store worker, answered by a message to the screen (`owner`)."""

from __future__ import annotations

from textual.message_pump import MessagePump

from rlhf_tui.app.annotate.session import AnnotationSession, Item, load_item
from rlhf_tui.app.messages import AnsweredIdsLoaded, PreviousLoaded, RecordFound, RecordsFetched, SubmissionsCounted
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import PermissionDeniedError, PreferenceStore


class RecordFeed:
    def __init__(
        self,
        *,
        store: PreferenceStore,
        jobs: StoreJobQueue,
        owner: MessagePump,
        session: AnnotationSession,
        dataset: str,
        annotator: str,
        prefetch: int,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.owner = owner
        self.session = session
        self.dataset = dataset
        self.annotator = annotator
        self.prefetch = prefetch

    def load_earlier_answers(self) -> None:
        """AnsweredIdsLoaded: the records this annotator answered before, to go back to."""
        store, name, who = self.store, self.dataset, self.annotator
        self.jobs.submit(
            self.owner, "reading your earlier answers", lambda: store.answered_record_ids(name, who), AnsweredIdsLoaded
        )

    def request_records(self) -> None:
        """RecordsFetched (StoreFailed tag "fetch"), when the session wants more records ahead."""
        if not self.session.wants_fetch():
            return
        self.session.fetch_in_flight = True
        store, name, who, limit = self.store, self.dataset, self.annotator, self.prefetch
        exclude = self.session.ids_to_exclude()

        def fetch() -> list[Item]:
            records = store.next_records(name, who, limit=limit, exclude=exclude)
            return [load_item(store, record, who) for record in records]

        self.jobs.submit(self.owner, "fetching records", fetch, lambda items: RecordsFetched(items, limit), tag="fetch")

    def load_previous(self, record_id: int) -> None:
        """PreviousLoaded (StoreFailed tag "previous"): an answered record, to amend."""
        store, who = self.store, self.annotator
        self.jobs.submit(
            self.owner,
            "loading the previous record",
            lambda: load_item(store, store.get_record(record_id), who),
            PreviousLoaded,
            tag="previous",
        )

    def find(self, external_id: str) -> None:
        """RecordFound (StoreFailed tag "previous"): the record with that id from the file,
        loaded like a previous one (over the service annotators find the records they answered)."""
        store, name, who = self.store, self.dataset, self.annotator

        def find() -> RecordFound:
            record_id = store.find_record(name, external_id)
            item = None if record_id is None else load_item(store, store.get_record(record_id), who)
            return RecordFound(external_id, item)

        self.jobs.submit(self.owner, f"looking for record {external_id!r}", find, lambda found: found, tag="previous")

    def count_submissions(self, record_id: int) -> None:
        """SubmissionsCounted: the record's submitted answers now (has a draft's record filled up?)."""
        store = self.store
        self.jobs.submit(
            self.owner,
            "counting the record's answers",
            lambda: store.submission_counts([record_id]),
            lambda counts: SubmissionsCounted(record_id, counts[0] if counts else 0),
        )

    def renew_leases(self) -> None:
        """Keep the records fetched ahead and the unanswered one on screen leased to us."""
        ids = [item.record.id for item in self.session.ahead]
        if self.session.current is not None and not self.session.current.answered:
            ids.append(self.session.current.record.id)
        store, who = self.store, self.annotator

        def renew() -> None:
            for record_id in ids:
                try:
                    store.renew_lease(record_id, who)
                except PermissionDeniedError:
                    # Released meanwhile (an admin freed it, or it was answered in another session):
                    # the others are still renewed, and an answer to this one says why it is refused.
                    continue

        if ids:
            self.jobs.submit(self.owner, "renewing leases", renew)

    def skip(self, record_id: int) -> None:
        """The annotator skipped the record: the store keeps that (it comes back to them after
        the others, also after a restart) and lets other annotators have it at once."""
        store, who = self.store, self.annotator
        self.jobs.submit(self.owner, "skipping the record", lambda: store.skip_record(record_id, who))
