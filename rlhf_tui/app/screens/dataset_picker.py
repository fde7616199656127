"""The first screen when no --dataset was given: the store's datasets with their task
and completion; enter opens one."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from rlhf_tui.app.keymap import PICKER_BINDINGS
from rlhf_tui.app.messages import DatasetsLoaded
from rlhf_tui.app.safe_text import neutralise
from rlhf_tui.app.store_jobs import StoreJobQueue
from store import DatasetSummary, PreferenceStore


def dataset_label(summary: DatasetSummary) -> Text:
    label = Text(neutralise(summary.name), style="bold", end="")
    label.append(
        f"  {summary.task} · {summary.records:,} records · {summary.percent_complete:.1f}% complete"
        f" · {summary.annotators_per_record} per record",
        style="",
    )
    return label


class DatasetPickerScreen(Screen[str]):
    BINDINGS: ClassVar[list[BindingType]] = [*PICKER_BINDINGS]
    DEFAULT_CSS = """
    DatasetPickerScreen OptionList { height: 1fr; border: round $accent; }
    DatasetPickerScreen #picker-note { height: auto; padding: 0 1; }
    """

    def __init__(self, store: PreferenceStore, jobs: StoreJobQueue) -> None:
        super().__init__()
        self.store = store
        self.jobs = jobs

    def compose(self):
        yield Static(Content("Choose a dataset to annotate: ↑ ↓ to move, enter to open it"), id="picker-note")
        yield OptionList(id="datasets")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#datasets", OptionList).border_title = Content("Datasets")
        self.jobs.submit(self, "listing datasets", self.store.list_datasets, DatasetsLoaded)

    def on_datasets_loaded(self, message: DatasetsLoaded) -> None:
        options = self.query_one("#datasets", OptionList)
        options.clear_options()
        options.add_options([Option(dataset_label(d), id=d.name) for d in message.datasets])
        note = self.query_one("#picker-note", Static)
        if message.datasets:
            options.highlighted = 0
            options.focus()
        else:
            note.update(Content("The store has no datasets yet: run `rlhf-tui import` first. Press q to quit."))

    @on(OptionList.OptionSelected, "#datasets")
    def chose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_choose(self) -> None:
        options = self.query_one("#datasets", OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
