"""
    CellWAK

Graph kernels of cellwak in plain Julia (standard library only; Julia 1.5 and later).

Conventions (see `shared/methods/deepwak.md` 1.1-1.3):

* data matrices are **features × cells** (`X[:, i]` is cell `i`); a C-order numpy array of shape
  `(n, d)` written raw is exactly this `d × n` matrix;
* cell × cell matrices (`A`, `G`, `W`) are indexed as in the rows-are-cells notes: `W[i, j]` is
  the weight of cell `j` in the estimate of cell `i`, so the denoised data are `X * transpose(W)`;
* neighbour indices returned by `knn_exact` are **1-based** (the command-line entry point
  `bin/cellwak_kernels.jl` writes them 0-based for Python); cluster labels from `leiden` are
  **0-based**, renumbered by cluster size (largest first).
"""
module CellWAK

using LinearAlgebra
using Random
using SparseArrays

export knn_exact, knn_adjacency, symmetrize,
       wak, pwak, pwak_apply, partition_matrix, denoise, noise2self_loss,
       dewak_neighbours, dewak_losses, modularity, leiden, leiden_run, renumber_by_size

include("knn.jl")
include("wak.jl")
include("dewak.jl")
include("modularity.jl")
include("leiden_graph.jl")
include("leiden_moves.jl")
include("leiden.jl")
include("kernel_io.jl")
include("kernel_ops.jl")

end # module
