"""An ``Input`` whose editing keys keep the order they were typed in.

Textual (8.2) inserts a printable key in ``Input._on_key`` at once, but an editing key bound on
the input (backspace, ctrl+u, enter, ...) is run only after it has bubbled up to the app. When
keys arrive in a burst while the app is busy, the next characters are inserted before the bound
key's action runs: "ctrl+u 0 . 3 enter" typed into the gamma field gave "3" or "" (measured under
load in tmux: the field was cleared after "0." had been typed), so the dashboard clustered at
gamma 3, or refused "". Textual issue #6605 (fix proposed in pull request #6631, not released).
Here the input's own non-priority bindings run inline, in the order of the keys; priority
bindings were already checked by the app before the key reached the widget, and keys the input
does not bind still bubble up to the screen's and the app's bindings.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class TextInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
