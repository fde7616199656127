"""What the store worker posts to the review screen: the results of its store jobs,
handled on the UI thread (`on_review_started`, `on_queue_page_loaded`, …)."""

from __future__ import annotations

from textual.message import Message

from rlhf_tui.app.review.walk import ReviewBundle
from store import Dataset
from store.types import Review, ReviewItem


class ReviewStarted(Message):
    """The dataset and the first page of the review queue."""

    def __init__(self, dataset: Dataset, items: list[ReviewItem]) -> None:
        super().__init__()
        self.dataset = dataset
        self.items = items


class QueuePageLoaded(Message):
    """A later page of the review queue."""

    def __init__(self, items: list[ReviewItem]) -> None:
        super().__init__()
        self.items = items


class BundlesLoaded(Message):
    """Records of the queue with their answers and review; `asked`: the record ids asked for."""

    def __init__(self, bundles: list[ReviewBundle], asked: list[int]) -> None:
        super().__init__()
        self.bundles = bundles
        self.asked = asked


class ReviewRecordFound(Message):
    """The record asked for by its id from the file (`/`); `item` None when there is none."""

    def __init__(self, external_id: str, item: ReviewItem | None) -> None:
        super().__init__()
        self.external_id = external_id
        self.item = item


class ReviewSaved(Message):
    """A review (a decision, or an amended note or gold mark) is in the store."""

    def __init__(self, review: Review) -> None:
        super().__init__()
        self.review = review
