# Exact Euclidean k nearest neighbours by blocked matrix products, and kNN graphs.

"""Query block size so that one `n × blocksize` block of dot products holds about 2^24 numbers."""
default_blocksize(n::Integer) = clamp(2^24 ÷ max(n, 1), 64, 4096)

"""
    knn_exact(X, k; blocksize=default_blocksize(n)) -> (idx, dist)

Exact Euclidean k nearest neighbours of every column (cell) of the `d × n` matrix `X`, the cell
itself excluded. Returns `idx` (`k × n`, **1-based**, column `i` = neighbours of cell `i`, nearest
first, ties broken by smaller index) and `dist` (`k × n`, same order, in `X`'s float type).

Candidates are ranked with ‖x_j‖² − 2 x_i·x_j from one `n × blocksize` block of dot products at a
time (never an `n × n` matrix); the k kept distances are then recomputed directly, so they carry
no cancellation error, and re-sorted.
"""
function knn_exact(X::AbstractMatrix{<:Real}, k::Integer; blocksize::Integer=default_blocksize(size(X, 2)))
    d, n = size(X)
    1 <= k < n || throw(ArgumentError("k must be in 1..n-1 = 1..$(n - 1), got $k"))
    blocksize >= 1 || throw(ArgumentError("blocksize must be positive, got $blocksize"))
    T = float(eltype(X))
    Xm = X isa Matrix{T} ? X : Matrix{T}(X)
    sq = vec(sum(abs2, Xm; dims=1))
    idx = Matrix{Int}(undef, k, n)
    dist = Matrix{T}(undef, k, n)
    b = min(blocksize, n)
    gram = Matrix{T}(undef, n, b)
    for start in 1:b:n
        stop = min(start + b - 1, n)
        block = view(gram, :, 1:(stop - start + 1))
        mul!(block, transpose(Xm), view(Xm, :, start:stop))
        Threads.@threads for c in 1:(stop - start + 1)
            select_nearest!(view(idx, :, start + c - 1), view(dist, :, start + c - 1),
                            view(block, :, c), sq, start + c - 1)
        end
    end
    Threads.@threads for i in 1:n
        exact_distances!(view(idx, :, i), view(dist, :, i), Xm, i)
    end
    return idx, dist
end

# Keep the k smallest keys sq[j] - 2 g[j] (j != self) in ascending order: insertion into a sorted
# buffer, rejecting most candidates with a single comparison against the current k-th key.
function select_nearest!(idx, key, g, sq, self::Int)
    k = length(idx)
    filled = 0
    @inbounds for j in eachindex(g)
        j == self && continue
        v = sq[j] - 2 * g[j]
        if filled < k
            filled += 1
        elseif v >= key[k]
            continue
        end
        pos = filled
        while pos > 1 && key[pos - 1] > v
            key[pos] = key[pos - 1]
            idx[pos] = idx[pos - 1]
            pos -= 1
        end
        key[pos] = v
        idx[pos] = j
    end
    return nothing
end

function exact_distances!(idx, dist, X, i::Int)
    @inbounds for m in eachindex(idx)
        j = idx[m]
        s = zero(eltype(dist))
        for f in axes(X, 1)
            s += abs2(X[f, i] - X[f, j])
        end
        dist[m] = sqrt(s)
    end
    @inbounds for m in 2:length(idx)          # insertion sort by (distance, index)
        dm, jm = dist[m], idx[m]
        pos = m
        while pos > 1 && (dist[pos - 1] > dm || (dist[pos - 1] == dm && idx[pos - 1] > jm))
            dist[pos] = dist[pos - 1]
            idx[pos] = idx[pos - 1]
            pos -= 1
        end
        dist[pos] = dm
        idx[pos] = jm
    end
    return nothing
end

"""
    knn_adjacency(idx, n) -> G::SparseMatrixCSC{Float64,Int}

Binary directed kNN graph from a `k × n` matrix of **1-based** neighbour indices (as returned by
`knn_exact`): `G[i, j] = 1` iff `j` is a neighbour of `i`, so row `i` has exactly `k` ones.
"""
function knn_adjacency(idx::AbstractMatrix{<:Integer}, n::Integer)
    k, ncells = size(idx)
    ncells == n || throw(DimensionMismatch("idx has $ncells columns but n = $n"))
    all(j -> 1 <= j <= n, idx) || throw(ArgumentError("neighbour indices must be 1-based in 1..$n"))
    rows = repeat(1:n, inner=k)
    return sparse(rows, vec(Int.(idx)), ones(Float64, k * n), n, n, max)
end

"""
    symmetrize(G, mode=:union) -> sparse symmetric matrix

`:union` keeps an edge present in either direction (weight `max(G[i,j], G[j,i])`); `:mutual`
keeps only edges present in both directions (weight `min`).
"""
function symmetrize(G::AbstractSparseMatrix, mode::Symbol=:union)
    size(G, 1) == size(G, 2) || throw(DimensionMismatch("G must be square, got $(size(G))"))
    Gt = sparse(transpose(G))
    S = if mode === :union
        max.(G, Gt)
    elseif mode === :mutual
        min.(G, Gt)
    else
        throw(ArgumentError("mode must be :union or :mutual, got :$mode"))
    end
    return dropzeros!(S)
end
