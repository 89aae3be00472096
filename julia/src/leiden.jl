# The Leiden algorithm for modularity with a resolution parameter
# (Traag, Waltman & van Eck 2019, "From Louvain to Leiden: guaranteeing well-connected communities").

"""
    leiden(A, gamma=1.0; seed=0, n_iterations=2, beta=0.01, initial=nothing) -> Vector{Int}

Communities of the undirected weighted graph `A` (symmetric, non-negative, sparse or dense)
maximising modularity with resolution `gamma`. One iteration is the full algorithm: fast local
moving, refinement (randomness `beta`), aggregation of the refined partition with the unrefined
partition as the starting assignment, repeated until every community is a single aggregate
node. Further iterations start from the previous result; `n_iterations < 0` repeats until an
iteration no longer improves modularity. Same graph + same `seed` give the same labels.

Returns **0-based** labels renumbered by cluster size, largest first.
"""
function leiden(A::AbstractSparseMatrix{<:Real}, gamma::Real=1.0; seed::Integer=0,
                n_iterations::Integer=2, beta::Real=0.01, initial=nothing)
    n = check_undirected(A)
    beta > 0 || throw(ArgumentError("beta must be positive, got $beta"))
    gamma >= 0 || throw(ArgumentError("gamma must be non-negative, got $gamma"))
    n_iterations == 0 && throw(ArgumentError("n_iterations must be positive, or negative for 'until stable'"))
    g = LGraph(SparseMatrixCSC{Float64,Int}(A))
    g.two_w > 0 || return zeros(Int, n)
    rng = MersenneTwister(seed)
    membership = initial === nothing ? collect(1:n) : compact_labels(initial)[1]
    length(membership) == n || throw(DimensionMismatch("$(length(membership)) initial labels for $n nodes"))
    quality = -Inf
    iteration = 0
    while n_iterations < 0 || iteration < n_iterations
        iteration += 1
        candidate = leiden_iteration(g, membership, Float64(gamma), Float64(beta), rng)
        if n_iterations < 0
            q = modularity(A, candidate, gamma)
            q > quality + 1e-12 * max(1.0, abs(q)) || break     # keep the better previous result
            quality = q
        end
        membership = candidate
    end
    return renumber_by_size(membership)
end

leiden(A::AbstractMatrix{<:Real}, gamma::Real=1.0; kwargs...) = leiden(sparse(A), gamma; kwargs...)

"""One run of the Leiden algorithm from `membership`; returns labels 1..c of the original nodes."""
function leiden_iteration(g0::LGraph, membership::Vector{Int}, gamma::Float64, beta::Float64,
                          rng::AbstractRNG)
    labels = copy(membership)
    compact!(labels)
    g = g0
    p = Partition(g, labels)
    node_of = collect(1:g0.n)             # original node -> node of the current level
    while true
        s = Scratch(g.n)
        move_nodes_fast!(g, p, gamma, rng, s)
        ncommunities(p) == g.n && break
        refined, nref = refine(g, p, gamma, beta, rng, s)
        if nref == g.n                     # nothing merged: aggregate the partition itself
            refined = copy(p.comm)
            nref = compact!(refined)
        end
        start = zeros(Int, nref)           # community of each aggregate node
        @inbounds for v in 1:g.n
            start[refined[v]] = p.comm[v]
        end
        compact!(start)
        g = aggregate(g, refined, nref)
        node_of = refined[node_of]
        p = Partition(g, start)
    end
    result = p.comm[node_of]
    compact!(result)
    return result
end
