"""Per-label classifiers for multi-label data (the Human Protein Atlas approach; shared
methods/extractors.md B): one balanced binary classifier per label on an embedding.

For every label: the positives among the training cells and as many negatives drawn at random
(seeded) from the training cells without it; that balanced set is split 75/25 (stratified), a
QuantileTransformer -> StandardScaler -> ExtraTrees pipeline is fitted on the 75% and scored on
the 25% (the *published* F1: each test set is half positive). A cell is predicted to carry every
label whose probability reaches ``threshold``.

The honest figure is computed first-hand: before anything is trained, ``test_fraction`` of the
cells are held out with the data's natural label distribution, and the macro F1 over labels of
the predicted label sets on those cells is reported beside the published one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import provenance
from ..errors import InputError, short_list
from ..metrics.multilabel import binary_f1, label_sets, macro
from ..progress import NULL

KEY = "cellwak_predicted_labels"


@dataclass
class ClassifyResult:
    labels: list[str]             # label names, in column order of ``proba``
    proba: np.ndarray             # cells x labels, P(label) from each label's classifier
    predicted: np.ndarray         # per cell, the predicted labels joined by the separator
    per_label: list[dict]         # label, positives, balanced F1, held-out F1, support
    balanced_macro_f1: float      # the published figure (mean of the balanced-test F1s)
    heldout_macro_f1: float       # the honest figure (natural distribution, held-out cells; labels
                                  # with an undefined F1, no positives and none predicted, left out)
    test_cells: np.ndarray        # indices of the held-out cells


def _pipeline(seed: int, n: int, n_estimators: int):
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    return make_pipeline(QuantileTransformer(n_quantiles=min(1000, n), random_state=0),
                         StandardScaler(), ExtraTreesClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=-1))


def per_label_classifiers(X, values, *, sep: str = ";", threshold: float = 0.5, test_fraction: float = 0.25,
                          n_estimators: int = 100, seed: int = 0, min_positives: int = 4,
                          progress=NULL) -> ClassifyResult:
    from sklearn.model_selection import train_test_split

    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) != len(values):
        raise InputError(f"the representation has shape {X.shape} but there are {len(values)} label values")
    check_classify(threshold=threshold, test_fraction=test_fraction, n_estimators=n_estimators, sep=sep)
    sets, names = label_sets(values, sep)
    if not names:
        raise InputError("the label column holds no labels", f"labels are strings, several joined by {sep!r}")
    Y = np.array([[name in s for name in names] for s in sets], dtype=bool)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    kept = [j for j, name in enumerate(names) if Y[train, j].sum() >= min_positives
            and (~Y[train, j]).sum() >= Y[train, j].sum() // 2 + 1]
    if not kept:
        raise InputError(f"no label has {min_positives} or more positive training cells", "use a larger dataset")
    proba = np.zeros((len(X), len(kept)), dtype=np.float32)
    per_label = []
    with progress.task(f"classifiers ({len(kept)} labels)", total=len(kept)) as task:
        for col, j in enumerate(kept):
            pos = train[Y[train, j]]
            neg = train[~Y[train, j]]
            neg = rng.choice(neg, size=min(len(pos), len(neg)), replace=False)
            idx = np.concatenate([pos, neg])
            y = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])
            fit_i, eval_i, fit_y, eval_y = train_test_split(idx, y, test_size=0.25, stratify=y, random_state=seed)
            model = _pipeline(seed, len(fit_i), n_estimators).fit(X[fit_i], fit_y)
            balanced = binary_f1(eval_y, model.predict_proba(X[eval_i])[:, 1] >= threshold)
            proba[:, col] = model.predict_proba(X)[:, 1]
            heldout = binary_f1(Y[test, j], proba[test, col] >= threshold)
            per_label.append({"label": names[j], "positives": int(Y[:, j].sum()), "balanced_f1": balanced,
                              "heldout_f1": heldout, "heldout_support": int(Y[test, j].sum())})
            task.advance()
    labels = [names[j] for j in kept]
    hits = proba >= threshold
    predicted = np.array([sep.join(l for l, h in zip(labels, row) if h) for row in hits], dtype=object)
    return ClassifyResult(labels, proba, predicted, per_label, macro(r["balanced_f1"] for r in per_label),
                          macro(r["heldout_f1"] for r in per_label), test)


def check_classify(*, threshold: float = 0.5, test_fraction: float = 0.25, n_estimators: int = 100, sep: str = ";") -> None:
    """Refuse settings that cannot work (one line each), before any data is read."""
    if not 0 < test_fraction < 1:
        raise InputError(f"--test-fraction must be between 0 and 1, got {test_fraction:g}")
    if not 0 < threshold < 1:
        raise InputError(f"--threshold must be between 0 and 1, got {threshold:g}")
    if n_estimators < 1:
        raise InputError(f"--trees must be at least 1, got {n_estimators}")
    if not sep:
        raise InputError("--sep is empty", "give the character that separates the labels of one cell, e.g. ';'")


def run_classify(adata, label_key: str, *, use_rep: str | None = None, sep: str = ";", threshold: float = 0.5,
                 test_fraction: float = 0.25, n_estimators: int = 100, random_state: int = 0, key_added: str = KEY,
                 progress=NULL) -> ClassifyResult:
    """Train the per-label classifiers on ``use_rep`` (an obsm key, 'X', or None: PCA of the scaled
    features), write the keys of the module docstring, return the result."""
    from ..pp.representation import representation

    check_classify(threshold=threshold, test_fraction=test_fraction, n_estimators=n_estimators, sep=sep)
    if label_key not in adata.obs:
        raise InputError(f"no obs column {label_key!r}", f"choose one of {short_list(list(adata.obs.columns))}")
    X, rep_info = representation(adata, use_rep, seed=random_state)
    column = adata.obs[label_key]
    values = column.astype(object).where(column.notna(), None).to_numpy()
    result = per_label_classifiers(X, values, sep=sep, threshold=threshold, test_fraction=test_fraction,
                                   n_estimators=n_estimators, seed=random_state, progress=progress)
    params = {"label_key": label_key, "rep": rep_info, "sep": sep, "threshold": threshold,
              "test_fraction": test_fraction, "n_estimators": n_estimators, "random_state": random_state}
    adata.obs[key_added] = result.predicted.astype(str)
    adata.obsm[f"{key_added}_proba"] = result.proba
    table = {k: np.asarray([np.nan if r[k] is None else r[k] for r in result.per_label])
             for k in ("positives", "balanced_f1", "heldout_f1", "heldout_support")}
    adata.uns[key_added] = {"labels": np.asarray(result.labels, dtype=object), "per_label": table,
                            "balanced_macro_f1": result.balanced_macro_f1, "heldout_macro_f1": result.heldout_macro_f1,
                            "n_test": int(len(result.test_cells)), "params": {**params, "rep": rep_info["rep"]}}
    adata.uns.setdefault("cellwak", {})["classify"] = provenance.record("classify", {**params, "labels": result.labels},
                                                                         seed=random_state, device="cpu")
    return result


def classify(adata, label_key: str, *, use_rep: str | None = None, sep: str = ";", threshold: float = 0.5,
             test_fraction: float = 0.25, n_estimators: int = 100, random_state: int = 0, key_added: str = KEY,
             copy: bool = False, progress=NULL):
    """One balanced classifier per label of ``obs[label_key]`` (labels of a cell joined by ``sep``;
    see the module docstring). Returns None, or a modified copy with ``copy=True``."""
    adata = adata.copy() if copy else adata
    run_classify(adata, label_key, use_rep=use_rep, sep=sep, threshold=threshold, test_fraction=test_fraction,
                 n_estimators=n_estimators, random_state=random_state, key_added=key_added, progress=progress)
    return adata if copy else None
