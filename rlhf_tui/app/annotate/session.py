"""Where an annotator is in a dataset: the record on screen, the records fetched ahead,
the answered records to go back to, the skipped ones. Plain Python, no Textual and no
store calls: the screen turns its decisions into store jobs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from store import Annotation, PreferenceStore, Record, shown_order


@dataclass(frozen=True)
class Item:
    """A record as this annotator sees it: its shown order and their earlier answer or draft."""

    record: Record
    shown_order: tuple[int, ...]
    previous: Annotation | None = None

    @property
    def answered(self) -> bool:
        return self.previous is not None and self.previous.status in ("submitted", "discarded")

    @property
    def draft(self) -> Annotation | None:
        return self.previous if self.previous is not None and self.previous.status == "draft" else None


def load_item(store: PreferenceStore, record: Record, annotator: str) -> Item:
    """An `Item` for a record (runs in the store worker: it reads the annotation)."""
    order = shown_order(record.id, annotator, len(record.candidates))
    return Item(record, order, store.get_annotation(record.id, annotator))


class AnnotationSession:
    def __init__(self, prefetch: int = 5) -> None:
        self.prefetch = max(1, prefetch)
        self.current: Item | None = None
        self.ahead: deque[Item] = deque()
        self.back_ids: list[int] = []  # answered records, most recent last
        self.skipped: list[int] = []
        self.fetch_in_flight = False
        self.loading_previous = 0
        self.exhausted = False

    # -- what to ask the store for -------------------------------------------
    def ids_to_exclude(self) -> list[int]:
        """Records next_records must not return: on screen, fetched ahead, skipped. (Answered
        ones it never returns: their saves run before any later fetch.)"""
        ids = [item.record.id for item in self.ahead] + self.skipped
        if self.current is not None:
            ids.append(self.current.record.id)
        return ids

    def wants_fetch(self) -> bool:
        return not self.fetch_in_flight and len(self.ahead) < max(1, self.prefetch // 2 + 1)

    def add_fetched(self, items: list[Item]) -> bool:
        """Queue fetched records; True when the screen should show the first (nothing on screen)."""
        self.fetch_in_flight = False
        known = set(self.ids_to_exclude())
        fresh = [item for item in items if item.record.id not in known]
        self.ahead.extend(fresh)
        if items:
            self.exhausted = False
        elif self.skipped and self.current is None and not self.ahead:
            self.skipped.clear()  # everything else is done: the skipped records come back
        elif not self.skipped:
            self.exhausted = True
        return self.current is None and self.loading_previous == 0 and bool(self.ahead)

    # -- moving ----------------------------------------------------------------
    def _remember_answered(self, record_id: int) -> None:
        if record_id in self.back_ids:
            self.back_ids.remove(record_id)
        self.back_ids.append(record_id)

    def leave_current(self, answered: bool) -> Item | None:
        """Move past the record on screen (answered now, or skipped) and show the next one."""
        item = self.current
        if item is not None:
            if answered or item.answered:
                self._remember_answered(item.record.id)
            else:
                self.skipped.append(item.record.id)
        self.current = self.ahead.popleft() if self.ahead else None
        return self.current

    def show_first_ahead(self) -> Item | None:
        if self.current is None and self.ahead:
            self.current = self.ahead.popleft()
        return self.current

    def start_going_back(self) -> int | None:
        """The id of the answered record to load and amend, or None when there is none."""
        if not self.back_ids:
            return None
        self.loading_previous += 1
        return self.back_ids.pop()

    def previous_loaded(self, item: Item) -> None:
        """Show the loaded record; the one on screen comes next after it."""
        self.loading_previous -= 1
        if self.current is not None:
            self.ahead.appendleft(self.current)
        self.current = item

    def start_finding(self) -> None:
        """A record asked for by id is loading: keys wait for it, like going back."""
        self.loading_previous += 1

    def found(self, item: Item | None) -> bool:
        """Show the record found by id (the one on screen comes next after it); False when
        there is none or it is on screen already (then nothing changes)."""
        if item is None or (self.current is not None and self.current.record.id == item.record.id):
            self.loading_previous -= 1
            return False
        record_id = item.record.id
        self.ahead = deque(i for i in self.ahead if i.record.id != record_id)  # never twice in the queue
        if record_id in self.back_ids:
            self.back_ids.remove(record_id)
        if record_id in self.skipped:
            self.skipped.remove(record_id)
        self.previous_loaded(item)
        return True

    def add_earlier_answers(self, record_ids_recent_first: list[int]) -> None:
        """Answered records from earlier sessions go below the ones answered in this one."""
        earlier = [rid for rid in reversed(record_ids_recent_first) if rid not in self.back_ids]
        self.back_ids[:0] = earlier
