# Newman modularity with a resolution parameter on an undirected weighted graph.

"""Map arbitrary labels to 1..c in order of first appearance; returns (ids, c)."""
function compact_labels(labels::AbstractVector)
    seen = Dict{eltype(labels),Int}()
    ids = Vector{Int}(undef, length(labels))
    for (i, l) in enumerate(labels)
        ids[i] = get!(seen, l, length(seen) + 1)
    end
    return ids, length(seen)
end

function check_undirected(A::AbstractSparseMatrix)
    size(A, 1) == size(A, 2) || throw(DimensionMismatch("the graph must be square, got $(size(A))"))
    issymmetric(A) || throw(ArgumentError("the graph must be undirected (a symmetric matrix); symmetrize it first (union or mutual of the kNN graph)"))
    any(<(0), nonzeros(A)) && throw(ArgumentError("edge weights must be non-negative"))
    return size(A, 1)
end

"""
    modularity(A, labels, gamma=1.0) -> Float64

`Q = (1/2w) Σ_ij [A_ij − γ k_i k_j / 2w] δ(c_i, c_j)` with `2w = Σ_ij A_ij` and `k_i = Σ_j A_ij`,
for a symmetric non-negative `A` (a self-loop `A_ii` counts once). `labels` may be any values.
"""
function modularity(A::AbstractSparseMatrix{<:Real}, labels::AbstractVector, gamma::Real=1.0)
    n = check_undirected(A)
    length(labels) == n || throw(DimensionMismatch("$(length(labels)) labels for $n nodes"))
    ids, c = compact_labels(labels)
    internal = zeros(c)
    total = zeros(c)
    rows, vals = rowvals(A), nonzeros(A)
    @inbounds for j in 1:n, p in nzrange(A, j)
        i = rows[p]
        w = Float64(vals[p])
        total[ids[i]] += w
        if ids[i] == ids[j]
            internal[ids[i]] += w
        end
    end
    two_w = sum(total)
    two_w > 0 || throw(ArgumentError("the graph has no edges"))
    return sum(internal[g] / two_w - gamma * (total[g] / two_w)^2 for g in 1:c)
end

modularity(A::AbstractMatrix{<:Real}, labels::AbstractVector, gamma::Real=1.0) =
    modularity(sparse(A), labels, gamma)
