"""Start a training run: the model, the dataset, its representation, the model's own settings
(defaults from the model registry) and the common ones, and the device (what `doctor` knows
about GPUs). The run is launched detached: it outlives the dashboard."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from cellwak import api

from ..base import ApiCalls, chosen
from ..widgets.text_input import TextInput

COMMON = (("epochs", "epochs"), ("batch_size", "batch size"), ("lr", "learning rate"),
          ("seed", "seed (0)"))


def typed(text: str, default, name: str):
    """A form's text as the type of the model's default; ValueError with a sentence otherwise."""
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{name} must be true or false, got {text!r}")
    for kind, word in ((int, "a whole number"), (float, "a number")):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{name} must be {word}, got {text!r}") from None
    return text


class StartRunScreen(ApiCalls, ModalScreen[dict | None]):
    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, home: str, dataset: str | None = None):
        super().__init__()
        self.home, self.dataset = home, dataset
        self.models: dict[str, dict] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="run-form"):
            yield Label("Start a training run (detached: it keeps running when the dashboard closes)",
                        classes="dialog-title")
            with Horizontal(classes="form-row"):
                yield Select([], prompt="model", id="run-model", allow_blank=True, compact=True)
                yield Select([], prompt="dataset", id="run-dataset", allow_blank=True, compact=True)
                yield Select([("auto", "auto")], value="auto", id="run-device", allow_blank=False, compact=True)
            yield Static("", id="run-model-help", classes="hint")
            yield TextInput(placeholder="representation: an obsm key (default: the dataset's features)", id="run-rep",
                            compact=True)
            with Horizontal(classes="form-row"):
                for name, hint in COMMON:
                    yield TextInput(placeholder=hint, id=f"run-{name}", compact=True)
            yield Label("the model's settings (defaults from the model registry)", classes="hint")
            yield VerticalScroll(id="run-settings")
            yield Static("", id="run-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", variant="primary", id="start", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.call_api(lambda home: (api.models(), api.list_datasets(home), api.devices()), self.home,
                      done=self._choices, group="form")

    def _choices(self, loaded) -> None:
        models, listing, torch = loaded
        self.models = {m["name"]: m for m in models}
        self.query_one("#run-model", Select).set_options([(f"{m['name']} ({m['data_kind']})", m["name"])
                                                          for m in models])
        names = [d.name for d in listing.datasets]
        self.query_one("#run-dataset", Select).set_options([(n, n) for n in names])
        if self.dataset in names:
            self.query_one("#run-dataset", Select).value = self.dataset
        devices = [("auto", "auto"), ("cpu", "cpu")]
        devices += [(f"cuda:{i} {g}", f"cuda:{i}") for i, g in enumerate(torch.get("gpus") or [])]
        device = self.query_one("#run-device", Select)
        device.set_options(devices)
        device.value = "auto"

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "run-model" or chosen(event.value) is None:
            return
        box = self.query_one("#run-settings", VerticalScroll)
        box.remove_children()
        model = self.models[event.value]
        self.query_one("#run-model-help", Static).update(model["description"])
        rows = [Horizontal(Label(name, classes="setting-name"),
                           TextInput(value=str(value), id=f"set-{name}", classes="setting", compact=True),
                           classes="setting-row") for name, value in model["defaults"].items()]
        box.mount_all(rows)

    def _settings(self) -> tuple[dict, dict]:
        model = self.query_one("#run-model", Select).value
        defaults = self.models[model]["defaults"]
        config = {}
        for name, default in defaults.items():
            text = self.query_one(f"#set-{name}", Input).value.strip()
            if text != str(default):
                config[name] = typed(text, default, name)
        common = {}
        for name, _ in COMMON:
            text = self.query_one(f"#run-{name}", Input).value.strip()
            if text:
                common[name] = text if name == "epochs" else typed(text, 0 if name in ("batch_size", "seed") else 0.0,
                                                                   name)
        return config, common

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        model = chosen(self.query_one("#run-model", Select).value)
        dataset = chosen(self.query_one("#run-dataset", Select).value)
        if model is None or dataset is None:
            self._failed("choose a model and a dataset")
            return
        try:
            config, common = self._settings()
        except ValueError as exc:
            self._failed(str(exc))
            return
        epochs = common.pop("epochs", None)
        if isinstance(epochs, str) and epochs.isdigit():
            epochs = int(epochs)
        settings = api.TrainSettings(epochs=epochs, device=self.query_one("#run-device", Select).value, **common)
        rep = self.query_one("#run-rep", Input).value.strip() or None
        self.query_one("#run-error", Static).update("starting...")
        self.query_one("#start", Button).disabled = True
        self.call_api(api.start_run, self.home, model, dataset, model_config=config, settings=settings, rep=rep,
                      detach=True, done=self.dismiss, failed=self._failed, group="form")

    def _failed(self, message: str) -> None:
        self.query_one("#run-error", Static).update(message)
        self.query_one("#start", Button).disabled = False
