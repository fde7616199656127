"""The footer of the annotate screen: every one-key action that fits the width, in the
order the screen gives (binding ids). When not all of them fit, the least needed ones (by
the priority the screen gives, most needed first) are left out, instead of whatever
happens to come last (Textual's footer cuts the end, which is where quit and help are)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import groupby

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

Entry = tuple[Binding, bool, str]  # a binding, whether it is enabled, its tooltip


def fitting(items: list[list[Entry]], widths: list[int], ranks: list[int], width: int) -> list[bool]:
    """Which items to show: the most needed (lowest rank) first, each one that still fits."""
    shown = [False] * len(items)
    used = 0
    for index in sorted(range(len(items)), key=lambda i: (ranks[i], i)):
        if used + widths[index] <= width:
            shown[index] = True
            used += widths[index]
    return shown


class KeyFooter(Footer):
    def __init__(self, priority: Sequence[str], order: Sequence[str], **kwargs) -> None:
        super().__init__(show_command_palette=False, **kwargs)
        self.priority = {binding_id: rank for rank, binding_id in enumerate(priority)}
        self.order = {binding_id: place for place, binding_id in enumerate(order)}
        self._shown_for: tuple[int, ...] = ()  # the items shown at the current width

    def _items(self) -> list[list[Entry]]:
        """Shown bindings by action, then runs of one group together (as Textual's footer does)."""
        by_action: defaultdict[str, list[Entry]] = defaultdict(list)
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                by_action[binding.action].append((binding, enabled, tooltip))
        items: list[list[Entry]] = []
        for group, runs in groupby(by_action.values(), lambda entries: entries[0][0].group):
            actions = [entries[0] for entries in runs]
            if group is not None and len(actions) > 1:
                items.append(actions)
            else:
                items.extend([action] for action in actions)
        return sorted(items, key=lambda item: min(self.order.get(b.id or "", len(self.order)) for b, _, _ in item))

    def _width(self, item: list[Entry]) -> int:
        """Cells an item takes: ` key description ` (a group: ` keys description `)."""
        if len(item) > 1:
            group = item[0][0].group
            keys = sum(cell_len(self.app.get_key_display(binding)) for binding, _, _ in item)
            if group is not None and not group.compact:
                keys += 2 * len(item)
            return 1 + keys + 1 + cell_len(group.description if group else "") + 1
        binding = item[0][0]
        return 1 + cell_len(self.app.get_key_display(binding)) + 1 + cell_len(binding.description) + 1

    def _rank(self, item: list[Entry]) -> int:
        return min(self.priority.get(binding.id or "", len(self.priority)) for binding, _, _ in item)

    def _choose(self) -> tuple[list[list[Entry]], list[bool]]:
        items = self._items()
        width = self.size.width or self.app.size.width
        shown = fitting(items, [self._width(item) for item in items], [self._rank(item) for item in items], width)
        self._shown_for = tuple(index for index, visible in enumerate(shown) if visible)
        return items, shown

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        items, shown = self._choose()
        self.styles.grid_size_columns = sum(shown)
        for item, visible in zip(items, shown):
            if not visible:
                continue
            if len(item) > 1:
                group = item[0][0].group
                with KeyGroup(classes="-compact" if group and group.compact else ""):
                    for binding, enabled, tooltip in item:
                        yield FooterKey(
                            binding.key,
                            self.app.get_key_display(binding),
                            "",
                            binding.action,
                            disabled=not enabled,
                            tooltip=tooltip or binding.description,
                            classes="-grouped",
                        ).data_bind(compact=Footer.compact)
                yield FooterLabel(group.description if group else "")
            else:
                binding, enabled, tooltip = item[0]
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if not self._bindings_ready:
            return
        before = self._shown_for
        _, shown = self._choose()
        if tuple(index for index, visible in enumerate(shown) if visible) != before:
            self.call_after_refresh(self.recompose)
