"""The matrix a graph is built on: scaled features, PCA, or an embedding the user names.

When it computes a PCA it writes cellwak's own keys, ``obsm['X_cellwak_pca']``,
``varm['cellwak_PCs']`` (tables) and ``uns['cellwak_pca']``, never scanpy's ``X_pca``/``PCs``/``pca``:
a user's own PCA (and the UMAP computed from it) stays as it was.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, short_list


def is_image_dataset(adata) -> bool:
    return "images" in adata.obsm and getattr(adata.obsm["images"], "ndim", 0) == 4


def scaled_features(adata) -> np.ndarray:
    """Images: each channel scaled to [0, 1] by its maximum over the dataset (channels such as
    brightfield and a DNA stain differ in range). Tables: each feature standardised (zero mean,
    unit variance; constant features become 0)."""
    import scipy.sparse as sp

    if is_image_dataset(adata):
        images = np.asarray(adata.obsm["images"])
        top = images.max(axis=(0, 2, 3)).astype(np.float32)
        top[top <= 0] = 1.0
        scaled = images.astype(np.float32) / top[None, :, None, None]
        return scaled.reshape(images.shape[0], -1)
    X = adata.X
    if sp.issparse(X):
        X = X.toarray()
    X = np.asarray(X).astype(np.float32, copy=True)
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = X.std(axis=0, dtype=np.float64).astype(np.float32)
    X -= mean
    np.divide(X, std, out=X, where=std > 0)
    X[:, std == 0] = 0.0
    return X


def pca(X: np.ndarray, n_comps: int, seed: int = 0):
    """(scores float32, components, explained variance ratio) by scikit-learn's PCA."""
    from sklearn.decomposition import PCA

    n_comps = int(min(n_comps, X.shape[0] - 1, X.shape[1]))
    model = PCA(n_components=n_comps, random_state=seed)
    scores = model.fit_transform(X).astype(np.float32)
    return scores, model.components_.astype(np.float32), model.explained_variance_ratio_


PCA_KEY = "X_cellwak_pca"


def feature_index(adata, features) -> np.ndarray | None:
    """Positions of the named features (``var_names``) in ``X``; None for all of them."""
    if features is None:
        return None
    names = [str(f) for f in features]
    if not names:
        raise InputError("--features is empty", "name at least one feature, e.g. --features CD3,CD4")
    if is_image_dataset(adata):
        raise InputError("--features picks columns of a feature table; this dataset holds images",
                         "leave --features out, or cluster on an embedding with --rep")
    pos = adata.var_names.get_indexer(names)
    missing = [n for n, p in zip(names, pos) if p < 0]
    if missing:
        raise InputError(f"no feature named {short_list(missing)} in this dataset",
                         f"its features: {short_list(list(adata.var_names), 12)}")
    if len(set(pos.tolist())) != len(pos):
        raise InputError("a feature is named twice in --features")
    return np.asarray(pos, dtype=np.int64)


def representation(adata, rep: str | None = None, n_pcs: int = 50, seed: int = 0,
                   features=None) -> tuple[np.ndarray, dict]:
    """The matrix to build a graph on, and a description of it for provenance.

    ``rep``: a key of ``obsm`` (``X_cellwak_pca``, ``X_mevae``, ...) or ``X`` for the scaled features.
    Default: PCA with ``n_pcs`` components of the scaled features; when the data have no more
    than ``n_pcs`` features PCA is only a rotation, so the scaled features are used directly.
    ``features``: only these columns of ``X`` (names), with ``rep`` None or ``X``.
    """
    index = feature_index(adata, features)
    if index is not None:
        if rep not in (None, "X"):
            raise InputError("--features picks columns of the features X, not of an embedding", "leave --rep out")
        X = scaled_features(adata)[:, index]
        chosen = {"features": [str(adata.var_names[i]) for i in index]}
        if rep == "X" or X.shape[1] <= n_pcs:
            return X, {"rep": "X", "scaling": _scaling(adata), **chosen}
        if n_pcs < 1:
            raise InputError(f"--n-pcs must be at least 1, got {n_pcs}")
        scores, _, ratio = pca(X, n_pcs, seed)
        adata.obsm[PCA_KEY] = scores
        adata.uns["cellwak_pca"] = {"variance_ratio": ratio.astype(np.float32),
                                    "params": {"n_comps": int(scores.shape[1]), "seed": int(seed), **chosen}}
        return scores, {"rep": PCA_KEY, "n_pcs": int(scores.shape[1]), "scaling": _scaling(adata), **chosen,
                        "explained_variance": round(float(ratio.sum()), 4)}
    if rep is not None:
        if rep == "X":
            return scaled_features(adata), {"rep": "X", "scaling": _scaling(adata)}
        if rep not in adata.obsm or rep == "images":
            available = [k for k in adata.obsm.keys() if k != "images"] + ["X"]
            raise InputError(f"no representation {rep!r} in this dataset",
                             f"choose one of {short_list(available)} or leave --rep out for PCA")
        arr = np.asarray(adata.obsm[rep], dtype=np.float32)
        if arr.ndim != 2:
            raise InputError(f"representation {rep!r} has shape {arr.shape}", "it must be cells x dimensions")
        return arr, {"rep": rep}
    if n_pcs < 1:
        raise InputError(f"--n-pcs must be at least 1, got {n_pcs}")
    X = scaled_features(adata)
    if X.shape[1] <= n_pcs:
        return X, {"rep": "X", "scaling": _scaling(adata), "pca": "skipped: no more features than --n-pcs"}
    scores, components, ratio = pca(X, n_pcs, seed)
    adata.obsm[PCA_KEY] = scores
    if not is_image_dataset(adata):
        adata.varm["cellwak_PCs"] = components.T
    adata.uns["cellwak_pca"] = {"variance_ratio": ratio.astype(np.float32),
                                "params": {"n_comps": int(scores.shape[1]), "seed": int(seed), "scaling": _scaling(adata)}}
    return scores, {"rep": PCA_KEY, "n_pcs": int(scores.shape[1]), "scaling": _scaling(adata),
                    "explained_variance": round(float(ratio.sum()), 4)}


def _scaling(adata) -> str:
    return "pixels/channel max" if is_image_dataset(adata) else "standardised"
