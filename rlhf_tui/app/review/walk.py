"""Where the reviewer is in the review queue, and the records loaded around that place.
No Textual here: the screen asks it what to fetch and tells it what arrived.

The queue comes in pages (`review_queue(offset, limit)`); each record's bundle (the
record, every answer, its review and the review's history) is fetched ahead, `ahead`
records past the one on screen and `behind` before it, so moving on never waits for
the store. Bundles far from the reviewer are dropped again, so memory stays flat on a
queue of 100,000 records."""

from __future__ import annotations

from dataclasses import dataclass, replace

from store import PreferenceStore
from store.types import Annotation, Record, Review, ReviewItem

PAGE_SIZE = 500


@dataclass(frozen=True)
class ReviewBundle:
    """One record of the queue with everything the review screen shows about it."""

    item: ReviewItem
    record: Record
    answers: tuple[Annotation, ...]
    review: Review | None
    history: tuple[Review, ...]  # earlier revisions of the review, oldest first

    def with_review(self, review: Review) -> ReviewBundle:
        """The bundle once `review` is saved: the one it replaces goes to the history."""
        earlier = (*self.history, self.review) if self.review is not None else self.history
        return replace(self, review=review, history=earlier, item=replace(self.item, reviewed=True))


def find_item(store: PreferenceStore, dataset: str, external_id: str) -> ReviewItem | None:
    """The queue item of the dataset's record with that id from the file, whatever its answers
    (in the store worker thread); None when there is no such record."""
    record_id = store.find_record(dataset, external_id)
    if record_id is None:
        return None
    answers = [a for a in store.record_answers(record_id) if a.status == "submitted"]
    distinct = len({(a.ranks, a.both_bad) for a in answers})
    commented = sum(1 for a in answers if a.comment)
    reviewed = store.get_review(record_id) is not None
    return ReviewItem(record_id, external_id, len(answers), distinct, 0.0, commented, reviewed)


def load_bundles(store: PreferenceStore, items: list[ReviewItem]) -> list[ReviewBundle]:
    """The bundles of `items` (in the store worker thread)."""
    if not items:
        return []
    records = {record.id: record for record in store.get_records([item.record_id for item in items])}
    bundles = []
    for item in items:
        record = records.get(item.record_id)
        if record is None:
            continue  # deleted meanwhile
        review = store.get_review(item.record_id)
        history = tuple(store.review_history(item.record_id)) if review is not None else ()
        bundles.append(ReviewBundle(item, record, tuple(store.record_answers(item.record_id)), review, history))
    return bundles


class ReviewWalk:
    def __init__(self, ahead: int = 5, behind: int = 2, page_size: int = PAGE_SIZE) -> None:
        self.ahead = ahead
        self.behind = behind
        self.page_size = page_size
        self.items: list[ReviewItem] = []
        self.position = 0
        self.exhausted = False  # the last page has come
        self.page_in_flight = False
        self.bundles: dict[int, ReviewBundle] = {}
        self.requested: set[int] = set()  # record ids asked for and not arrived yet
        self._index: dict[int, int] = {}  # record id → its place in `items`

    # -- the queue ---------------------------------------------------------------------
    def add_page(self, items: list[ReviewItem]) -> None:
        self.page_in_flight = False
        for item in items:
            if item.record_id not in self._index:  # a record that moved between pages comes once
                self._index[item.record_id] = len(self.items)
                self.items.append(item)
        if len(items) < self.page_size:
            self.exhausted = True

    def next_page_offset(self) -> int | None:
        """The offset of the page to ask for now (and marks it asked), or None."""
        if self.exhausted or self.page_in_flight or self.position + self.ahead + 1 < len(self.items):
            return None
        self.page_in_flight = True
        return len(self.items)

    @property
    def current(self) -> ReviewItem | None:
        return self.items[self.position] if 0 <= self.position < len(self.items) else None

    @property
    def current_bundle(self) -> ReviewBundle | None:
        item = self.current
        return self.bundles.get(item.record_id) if item else None

    def total_text(self) -> str:
        """How many records the queue has, as far as known: "1,234" or "500+"."""
        return f"{len(self.items):,}" if self.exhausted else f"{len(self.items):,}+"

    def jump_to(self, item: ReviewItem) -> None:
        """Make `item` the record on screen: where it already is in the queue, else inserted
        right after the current one (so "previous" comes back to where the reviewer was)."""
        if item.record_id not in self._index:
            at = min(self.position + 1, len(self.items)) if self.items else 0
            self.items.insert(at, item)
            self._index = {it.record_id: i for i, it in enumerate(self.items)}
        self.position = self._index[item.record_id]
        self._forget_far()

    def move(self, step: int) -> bool:
        """Go `step` records on (or back); False at either end."""
        target = self.position + step
        if not 0 <= target < len(self.items):
            return False
        self.position = target
        self._forget_far()
        return True

    # -- the bundles -------------------------------------------------------------------
    def to_fetch(self) -> list[ReviewItem]:
        """The records around the reviewer not loaded nor asked for yet, nearest first
        (and marks them asked)."""
        wanted: list[ReviewItem] = []
        order = [0, *range(1, self.ahead + 1), *range(-1, -self.behind - 1, -1)]
        for offset in order:
            index = self.position + offset
            if 0 <= index < len(self.items):
                record_id = self.items[index].record_id
                if record_id not in self.bundles and record_id not in self.requested:
                    wanted.append(self.items[index])
                    self.requested.add(record_id)
        return wanted

    def bundles_loaded(self, bundles: list[ReviewBundle], asked: list[int]) -> None:
        self.requested.difference_update(asked)
        for bundle in bundles:
            self.bundles[bundle.record.id] = bundle
        self._forget_far()

    def fetch_failed(self, asked: list[int]) -> None:
        self.requested.difference_update(asked)

    def review_saved(self, review: Review) -> None:
        bundle = self.bundles.get(review.record_id)
        if bundle is not None:
            self.bundles[review.record_id] = bundle.with_review(review)
        index = self._index.get(review.record_id)
        if index is not None:
            self.items[index] = replace(self.items[index], reviewed=True)

    def _forget_far(self) -> None:
        keep = {
            item.record_id
            for item in self.items[max(0, self.position - self.behind - 2) : self.position + self.ahead + 3]
        }
        for record_id in [r for r in self.bundles if r not in keep]:
            del self.bundles[record_id]
