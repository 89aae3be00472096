"""The DeePWAK kernel algebra (rows are cells; see shared methods/deepwak.md section 1.2).

WAK(A): zero the diagonal of a non-negative affinity A, then normalise each column (DeePWAK,
V1-V3) or each row (V0, DEWAKSS) to sum to one. The denoised estimate of embeddings E is W E
(row i: sum_j W_ij e_j); with column normalisation rows need not sum to one.

Everything that can stay on the kNN support stays sparse (scipy CSR). Partition kernels are
applied without forming the n x n matrix: for a soft partition C (n x c),
    [WAK_col(C C^T) E]_i = c_i^T (sum_j c_j e_j^T / s_j) - |c_i|^2 e_i / s_i,
    s_j = c_j . (sum_l c_l) - |c_j|^2 + eps,
which costs O(n c m) instead of O(n^2 m). Dense n x n versions exist for tests and minibatches.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

EPS = float(np.finfo(np.float32).eps)


# -- affinities -----------------------------------------------------------------------------
def inverse_distance(dist, eps: float = EPS):
    """``inveucl``: 1 / (d + eps) (works on arrays and on the data of sparse matrices)."""
    if sp.issparse(dist):
        out = dist.copy().astype(np.float64)
        out.data = 1.0 / (out.data + eps)
        return out
    return 1.0 / (np.asarray(dist, dtype=np.float64) + eps)


def zero_diagonal(A):
    if sp.issparse(A):
        A = A.tocsr(copy=True)
        A.setdiag(0)
        A.eliminate_zeros()
        return A
    A = np.array(A, dtype=np.float64, copy=True)
    np.fill_diagonal(A, 0.0)
    return A


# -- WAK ------------------------------------------------------------------------------------
def wak(A, norm: str = "col", eps: float = EPS):
    """Weighted affinity kernel: zero diagonal, then columns (``col``) or rows (``row``) sum to 1.

    Column normalisation adds ``eps`` to every column sum as the reference does; row
    normalisation leaves an empty row empty (0/0 -> 0, the V0 convention).
    """
    A = zero_diagonal(A)
    if norm == "col":
        sums = np.asarray(A.sum(axis=0)).ravel() + eps
        return (A @ sp.diags(1.0 / sums)).tocsr() if sp.issparse(A) else A / sums[None, :]
    if norm == "row":
        sums = np.asarray(A.sum(axis=1)).ravel()
        inv = np.divide(1.0, sums, out=np.zeros_like(sums, dtype=np.float64), where=sums > 0)
        return (sp.diags(inv) @ A).tocsr() if sp.issparse(A) else A * inv[:, None]
    raise ValueError(f"norm must be 'col' or 'row', got {norm!r}")


def denoise(W, E, steps: int = 1):
    """Diffusion: W^s E (s = 1 is the single weighted average DEWAKSS finds best)."""
    out = np.asarray(E, dtype=np.float64)
    for _ in range(steps):
        out = W @ out
    return np.asarray(out)


def diffusion_series(W, E, steps: int):
    """[W E, W^2 E, ..., W^steps E] without recomputing powers."""
    out, cur = [], np.asarray(E, dtype=np.float64)
    for _ in range(steps):
        cur = np.asarray(W @ cur)
        out.append(cur)
    return out


def blockwise_mse(X, predict, block: int = 512) -> float:
    """mean((X - predict(X))^2) over column blocks of X (float64 per block only), for any
    ``predict`` that treats columns independently (every kernel here does)."""
    X = np.asarray(X)
    total = 0.0
    for start in range(0, X.shape[1], block):
        Xb = np.asarray(X[:, start:start + block], dtype=np.float64)
        total += float(np.square(Xb - predict(Xb)).sum())
    return total / X.size


def noise2self_loss(X, W, steps: int = 1) -> float:
    """MSE(X, W^s X): the self-supervised denoising loss (J-invariant through the zero diagonal)."""
    return blockwise_mse(X, lambda Xb: denoise(W, Xb, steps))


# -- partitions -----------------------------------------------------------------------------
def one_hot(labels, n_clusters: int | None = None) -> sp.csr_matrix:
    """Hard labels (n,) -> sparse one-hot C (n x c)."""
    labels = np.asarray(labels)
    _, codes = np.unique(labels, return_inverse=True)
    c = int(codes.max()) + 1 if n_clusters is None else n_clusters
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, c))


def partition_matrix(labels) -> sp.csr_matrix:
    """P_ij = 1 iff cells i and j share a cluster (diagonal included). O(sum of squared sizes):
    for tests and small data; use :func:`pwak_apply` to apply a partition kernel at scale."""
    C = one_hot(labels)
    return (C @ C.T).tocsr()


def pwak_dense(C, norm: str = "col", eps: float = EPS) -> np.ndarray:
    """WAK(C C^T) as a dense n x n matrix (minibatches and tests)."""
    C = C.toarray() if sp.issparse(C) else np.asarray(C, dtype=np.float64)
    return wak(C @ C.T, norm=norm, eps=eps)


def pwak_apply(C, E, norm: str = "col", eps: float = EPS) -> np.ndarray:
    """WAK(C C^T) E without the n x n matrix (C soft (n x c) or hard one-hot sparse)."""
    C = C.toarray() if sp.issparse(C) else np.asarray(C, dtype=np.float64)
    E = np.asarray(E, dtype=np.float64)
    self_sim = np.einsum("ic,ic->i", C, C)
    if norm == "col":
        s = C @ C.sum(axis=0) - self_sim + eps
        return C @ (C.T @ (E / s[:, None])) - (self_sim / s)[:, None] * E
    if norm == "row":
        r = C @ C.sum(axis=0) - self_sim
        num = C @ (C.T @ E) - self_sim[:, None] * E
        inv = np.divide(1.0, r, out=np.zeros_like(r), where=r > 0)
        return num * inv[:, None]
    raise ValueError(f"norm must be 'col' or 'row', got {norm!r}")


def restrict_to_partition(G, labels) -> sp.csr_matrix:
    """G restricted to within-cluster edges: G (.) P, on G's sparse support."""
    G = G.tocoo()
    labels = np.asarray(labels)
    keep = labels[G.row] == labels[G.col]
    return sp.csr_matrix((G.data[keep], (G.row[keep], G.col[keep])), shape=G.shape)


# -- modularity-type scores -----------------------------------------------------------------
def soft_modularity(A, C, gamma: float = 1.0) -> float:
    """Standard (soft) modularity Q = (1/2w)[tr(C^T A C) - gamma |C^T k|^2 / (2w)] of an
    undirected weighted graph A; C soft (n x c) or one-hot. Equals Newman modularity for hard C."""
    A = sp.csr_matrix(A)
    C = C if sp.issparse(C) else sp.csr_matrix(np.asarray(C, dtype=np.float64))
    two_w = float(A.sum())
    if two_w == 0:
        return 0.0
    k = np.asarray(A.sum(axis=1)).ravel()
    within = float((C.T @ (A @ C)).diagonal().sum())
    ck = np.asarray(C.T @ k).ravel()
    return (within - gamma * float(ck @ ck) / two_w) / two_w


def modularity(A, labels, gamma: float = 1.0) -> float:
    return soft_modularity(A, one_hot(labels), gamma)


def softmod_v1(G, P, gamma: float = 1.0) -> float:
    """DeePWAK V1's ``softmod`` (julia/LayerFns.jl), kept for exact reproduction; not standard
    modularity: e = rowsum(P G^T), K = rowsum(P G), mu = mean(e),
    H = (1/(2 mu)) sum_i (e_i - gamma K_i^2 / (2 mu))."""
    G = G.toarray() if sp.issparse(G) else np.asarray(G, dtype=np.float64)
    P = P.toarray() if sp.issparse(P) else np.asarray(P, dtype=np.float64)
    e = (P @ G.T).sum(axis=1)
    K = (P @ G).sum(axis=1)
    mu = e.mean()
    return float(np.sum(e - gamma * K ** 2 / (2 * mu)) / (2 * mu))


def rbpm(G, P, gamma: float = 1.0) -> float:
    """Reichardt-Bornholdt: sum_ij P_ij (G_ij - gamma k_out_i k_in_j / (2 W)), W = sum G
    (equals unnormalised standard modularity at gamma / 2)."""
    G = sp.csr_matrix(G)
    P = sp.csr_matrix(P)
    W = float(G.sum())
    k_out = np.asarray(G.sum(axis=1)).ravel()
    k_in = np.asarray(G.sum(axis=0)).ravel()
    observed = float(G.multiply(P).sum())
    expected = float(k_out @ (P @ k_in))
    return observed - gamma * expected / (2 * W)


def cpm(G, P, gamma: float = 1.0) -> float:
    """The code's CPM sign convention: -sum_ij (G_ij - gamma) P_ij."""
    G = sp.csr_matrix(G)
    P = sp.csr_matrix(P)
    return -(float(G.multiply(P).sum()) - gamma * float(P.sum()))
