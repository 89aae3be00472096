"""Every model's settings: default values and, for enumerated ones, the allowed values.

Plain data without torch, so the command line and the dashboard read the defaults of every
model at start-up from here (one place; the model modules register with the same dicts), and
:func:`cellwak.models.create_task` refuses a value outside the allowed ones with one line.
"""

from __future__ import annotations

DEFAULTS: dict[str, dict] = {
    "ae": {"latent": 8, "hidden": 0, "activation": "tanh"},
    "deepwak": {"variant": "v2", "heads": 5, "dim": 14, "clusters": 14, "pool": "sum", "wak_norm": "col",
                "scaling": "sample", "alpha": 0.1, "beta": 0.1, "gamma": 1.0, "eval_backend": "python"},
    "vime": {"hidden": 0, "p_m": 0.3, "alpha": 2.0, "beta": 1.0, "k": 3, "label_fraction": 0.1,
             "self_epochs": 10, "semi_epochs": 20},
    "mevae": {"dim": 32, "encoders": 2, "combine": "product", "loss": "faithful", "export": "mean", "beta": 1.0,
              "free_bits": 0.5, "warmup": 0.5, "background": "border", "likelihood": "gaussian",
              "normalise": "dataset"},
    "vae": {"dim": 32, "beta": 1.0, "export": "mean", "likelihood": "gaussian", "normalise": "dataset"},
    "dino": {"backbone": "cnn", "width": 32, "prototypes": 1024, "hidden": 512, "bottleneck": 128, "local_crops": 2,
             "pairs": "same", "condition": "", "centering": "single", "barlow_weight": 0.0, "normalise": "dataset",
             "momentum": 0.996, "neighbours": 10, "global_scale": 0.6, "jitter": 0.5},
    "cnn": {"label": "", "sep": "", "arch": "auto", "weights": "", "size": 0, "width": 32, "balance": True,
            "augment": True},
}

CHOICES: dict[str, dict[str, tuple]] = {
    "ae": {"activation": ("tanh", "relu")},
    "deepwak": {"variant": ("v2", "v1"), "pool": ("sum", "linear"), "wak_norm": ("col", "row"),
                "scaling": ("sample", "feature", "none"), "eval_backend": ("python", "julia")},
    "vime": {},
    "mevae": {"combine": ("product", "mean", "concat"), "loss": ("faithful", "clean"), "export": ("mean", "stochastic"),
              "background": ("border", "zero"), "likelihood": ("bce", "gaussian"), "normalise": ("crop", "dataset")},
    "vae": {"export": ("mean", "stochastic"), "likelihood": ("bce", "gaussian"), "normalise": ("crop", "dataset")},
    "dino": {"backbone": ("cnn", "vit"), "pairs": ("same", "condition", "neighbours"), "centering": ("single", "domain"),
             "normalise": ("dataset", "batch")},
    "cnn": {"arch": ("auto", "small", "resnet18", "efficientnet_b0", "mlp")},
}


def defaults(model: str) -> dict:
    """A copy of ``model``'s default settings (KeyError for an unknown model)."""
    return dict(DEFAULTS[model])


def choices(model: str) -> dict[str, tuple]:
    return dict(CHOICES.get(model, {}))
