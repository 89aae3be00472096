"""The dashboard's text fields keep keys in the order they were typed, even when they arrive in one
burst (a busy app, a fast typist): "ctrl+u 0 . 3 enter" in the gamma field submits "0.3". With
Textual's own Input (8.2.8) the same burst gives "3" / "03" and submits it (Textual issue #6605)."""

from __future__ import annotations

from cellwak_tui.widgets.text_input import TextInput
from textual import events
from textual.app import App
from textual.widgets import Input

from tests.tui.conftest import pilot

CHARACTERS = {"full_stop": "."}


class _Form(App[None]):
    def __init__(self, field: type[Input]):
        super().__init__()
        self.field, self.submitted = field, []

    def compose(self):
        yield self.field(value="1.0", id="f")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submitted.append(event.value)


async def _type_in_one_burst(field: type[Input], keys: list[str]) -> tuple[str, list[str]]:
    app = _Form(field)
    async with app.run_test() as p:
        app.query_one("#f", Input).focus()
        await p.pause()
        for key in keys:  # all queued before the app handles the first, as a busy terminal delivers them
            app.post_message(events.Key(key, CHARACTERS.get(key, key if len(key) == 1 else None)))
        await p.pause(0.3)
        return app.query_one("#f", Input).value, app.submitted


@pilot
async def test_a_burst_of_keys_is_applied_in_order_in_the_gamma_field():
    value, submitted = await _type_in_one_burst(TextInput, ["ctrl+u", "0", "full_stop", "3", "enter"])
    assert (value, submitted) == ("0.3", ["0.3"])


@pilot
async def test_backspace_in_a_burst_deletes_the_character_before_it():
    value, _ = await _type_in_one_burst(TextInput, ["end", "backspace", "5"])
    assert value == "1.5"


@pilot
async def test_keys_the_field_does_not_bind_still_reach_the_app():
    class _WithBinding(_Form):
        BINDINGS = [("f5", "mark", "Mark")]
        marked = False

        def action_mark(self) -> None:
            self.marked = True

    app = _WithBinding(TextInput)
    async with app.run_test() as p:
        app.query_one("#f", Input).focus()
        await p.pause()
        await p.press("f5")
        await p.pause(0.1)
        assert app.marked
