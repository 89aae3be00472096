# Graph and partition state for Leiden: a symmetric weighted graph in CSC form, its aggregation,
# and a partition with community totals.

"""Undirected weighted graph: neighbours of node `v` are `nbr[colptr[v]:colptr[v+1]-1]`."""
struct LGraph
    n::Int
    colptr::Vector{Int}
    nbr::Vector{Int}
    wt::Vector{Float64}
    degree::Vector{Float64}   # k_v = Σ_u A_uv (a self-loop counts once)
    two_w::Float64            # Σ_uv A_uv, the same at every aggregation level
end

function LGraph(A::SparseMatrixCSC)
    n = size(A, 1)
    wt = Vector{Float64}(nonzeros(A))
    colptr = Vector{Int}(A.colptr)
    degree = zeros(n)
    @inbounds for v in 1:n, e in colptr[v]:(colptr[v + 1] - 1)
        degree[v] += wt[e]
    end
    return LGraph(n, colptr, Vector{Int}(rowvals(A)), wt, degree, sum(degree))
end

edges_of(g::LGraph, v::Int) = g.colptr[v]:(g.colptr[v + 1] - 1)

"""Collapse each community of `labels` (values 1..c) into one node; edge weights are summed,
internal weight becomes a self-loop, so modularity of corresponding partitions is unchanged."""
function aggregate(g::LGraph, labels::Vector{Int}, c::Int)
    nnz_ = length(g.nbr)
    I = Vector{Int}(undef, nnz_)
    J = Vector{Int}(undef, nnz_)
    @inbounds for v in 1:g.n, e in edges_of(g, v)
        I[e] = labels[g.nbr[e]]
        J[e] = labels[v]
    end
    S = sparse(I, J, g.wt, c, c)
    h = LGraph(S)
    return LGraph(h.n, h.colptr, h.nbr, h.wt, h.degree, g.two_w)
end

"""A partition of the nodes of one graph level with per-community degree totals and sizes."""
mutable struct Partition
    comm::Vector{Int}
    total::Vector{Float64}
    size::Vector{Int}
    empty::Vector{Int}          # ids of empty communities, used as a stack
end

"""Partition of `g` from labels in 1..c (c ≤ g.n)."""
function Partition(g::LGraph, labels::Vector{Int})
    total = zeros(g.n)
    size_ = zeros(Int, g.n)
    @inbounds for v in 1:g.n
        total[labels[v]] += g.degree[v]
        size_[labels[v]] += 1
    end
    empty = [c for c in g.n:-1:1 if size_[c] == 0]
    return Partition(copy(labels), total, size_, empty)
end

ncommunities(p::Partition) = length(p.comm) - length(p.empty)

"""Renumber labels to 1..c in order of first appearance."""
function compact!(labels::Vector{Int})
    ids, c = compact_labels(labels)
    copyto!(labels, ids)
    return c
end

"""
    renumber_by_size(labels) -> Vector{Int}

0-based labels ordered by cluster size, largest first; equal sizes keep the order in which the
clusters first appear.
"""
function renumber_by_size(labels::AbstractVector)
    ids, c = compact_labels(labels)
    counts = zeros(Int, c)
    for i in ids
        counts[i] += 1
    end
    order = sortperm(collect(1:c); by=i -> (-counts[i], i))
    rank = zeros(Int, c)
    rank[order] = 0:(c - 1)
    return rank[ids]
end
