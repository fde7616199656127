"""App-wide messages: results of store jobs, posted from the store worker thread to the
screen that asked, and handled there on the UI thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from store import AnnotatorProgress, Dataset, DatasetSummary

if TYPE_CHECKING:  # the annotate package imports these messages
    from rlhf_tui.app.annotate.session import Item
    from store.service.unsent import ResendReport


class StoreFailed(Message):
    """A store call failed; `text` is one line for the user, `tag` names the kind of job.
    `refused`: the store refused this user (impersonation, not in the group): the app cannot go on."""

    def __init__(self, text: str, tag: str = "", refused: bool = False) -> None:
        super().__init__()
        self.text = text
        self.tag = tag
        self.refused = refused


class DatasetsLoaded(Message):
    def __init__(self, datasets: list[DatasetSummary]) -> None:
        super().__init__()
        self.datasets = datasets


class DatasetLoaded(Message):
    def __init__(self, dataset: Dataset) -> None:
        super().__init__()
        self.dataset = dataset


class RecordsFetched(Message):
    """Records to annotate next, leased to this annotator, in the order to show them."""

    def __init__(self, items: list[Item], requested: int) -> None:
        super().__init__()
        self.items = items
        self.requested = requested


class PreviousLoaded(Message):
    """An earlier answered record, with its answer, to amend."""

    def __init__(self, item: Item) -> None:
        super().__init__()
        self.item = item


class RecordFound(Message):
    """The record asked for by its id from the file (`/`), loaded to show and amend;
    `item` is None when the store knows no such record (for this annotator)."""

    def __init__(self, external_id: str, item: Item | None) -> None:
        super().__init__()
        self.external_id = external_id
        self.item = item


class SubmissionsCounted(Message):
    """How many submitted answers a record has now (a draft's record may have filled up)."""

    def __init__(self, record_id: int, submissions: int) -> None:
        super().__init__()
        self.record_id = record_id
        self.submissions = submissions


class AnsweredIdsLoaded(Message):
    """The annotator's answered records from earlier sessions, most recent first."""

    def __init__(self, record_ids: list[int]) -> None:
        super().__init__()
        self.record_ids = record_ids


class AnswerSaved(Message):
    """An answer (draft, submission or discard) was saved: the progress shown is outdated."""


class ProgressLoaded(Message):
    def __init__(self, progress: AnnotatorProgress) -> None:
        super().__init__()
        self.progress = progress


class StoreDrained(Message):
    """Every job queued before this one has finished (used to quit once all is saved)."""


class ServiceConnectionChanged(Message):
    """The store service was lost (`connected` False) or is back (True); posted from the
    store worker thread by the service client."""

    def __init__(self, connected: bool) -> None:
        super().__init__()
        self.connected = connected


class KeptAnswersSent(Message):
    """The answers kept on this computer from an earlier session were sent (or refused)."""

    def __init__(self, report: ResendReport) -> None:
        super().__init__()
        self.report = report
