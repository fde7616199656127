"""The keys both modes share: skip, discard, comment, back (amend), guidelines, prompt
collapse, expand. A mixin of `AnnotateScreen`."""

from __future__ import annotations

from ..messages import PreviousLoaded
from ..session import load_item
from ..widgets import CandidateGrid, GuidelinesPanel, PromptView
from .answering import LocalState
from .text_prompt import TextPromptScreen


class SharedKeys:
    async def action_skip(self) -> None:
        if not self.ready:
            return
        item = self.session.current
        self.cancel_draft_timer()
        self.save_draft()
        if not item.answered:
            store, who, record_id = self.store, self.annotator, item.record.id
            self.jobs.submit(self, "releasing the record", lambda: store.release_lease(record_id, who))
        await self.move_on(answered=False)

    def action_discard(self) -> None:
        if not self.ready:
            return
        item = self.session.current

        async def discard(reason: str | None) -> None:
            if reason is not None and self.session.current is item:
                await self.finish("discarded", discard_reason=reason)

        self.app.push_screen(
            TextPromptScreen(
                "Discard this record",
                "Why? (optional — enter to discard, esc to keep the record)",
                value=item.previous.discard_reason if item.previous else "",
            ),
            discard,
        )

    def action_comment(self) -> None:
        if not self.ready:
            return
        item = self.session.current

        def set_comment(comment: str | None) -> None:
            if comment is not None and self.session.current is item and comment != self.comment:
                self.comment = comment
                self.ranking_changed()

        self.app.push_screen(
            TextPromptScreen(
                "Comment", "Your comment or rationale for this record (saved with the answer):", value=self.comment
            ),
            set_comment,
        )

    def action_back(self) -> None:
        if self.session.current is not None and self.session.loading_previous == 0:
            item = self.session.current
            self.cancel_draft_timer()
            if self.dirty:
                self.stash[item.record.id] = LocalState(self.current_ranks(), self.comment, self.seconds_on_record())
            self.save_draft()
        record_id = self.session.start_going_back()
        if record_id is None:
            self.notify("Nothing to go back to yet.", markup=False)
            return
        store, who = self.store, self.annotator
        self.jobs.submit(
            self,
            "loading the previous record",
            lambda: load_item(store, store.get_record(record_id), who),
            PreviousLoaded,
            tag="previous",
        )

    async def on_previous_loaded(self, message: PreviousLoaded) -> None:
        self.session.previous_loaded(message.item)
        if self.session.loading_previous == 0:
            await self.show_item(self.session.current)

    async def action_guidelines(self) -> None:
        await self.query_one(GuidelinesPanel).toggle()

    def action_toggle_prompt(self) -> None:
        self.query_one(PromptView).toggle_collapsed()

    def action_expand(self) -> None:
        item = self.session.current
        if item is None:
            return
        self.expanded = not self.expanded
        limit = None if self.expanded else self.config.preview_chars
        self.query_one(PromptView).show(item.record, limit, self.expand_key())
        for position, card in enumerate(self.query_one(CandidateGrid).cards):
            card.show(item.record.candidates[item.shown_order[position]], limit, self.expand_key())
