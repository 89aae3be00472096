# The Leiden algorithm for modularity with a resolution parameter
# (Traag, Waltman & van Eck 2019, "From Louvain to Leiden: guaranteeing well-connected communities").

"""
    leiden(A, gamma=1.0; seed=0, n_iterations=2, beta=0.01, initial=nothing, tolerance=1e-12,
           max_iterations=20) -> Vector{Int}

Communities of the undirected weighted graph `A` (symmetric, non-negative, sparse or dense)
maximising modularity with resolution `gamma`. One iteration is the full algorithm: fast local
moving, refinement (randomness `beta`), aggregation of the refined partition with the unrefined
partition as the starting assignment, repeated until every community is a single aggregate
node. Further iterations start from the previous result; `n_iterations < 0` repeats while an
iteration raises modularity by more than `tolerance × |Q|` (an iteration that gains less is kept
and ends the run, one that loses is dropped), at most `max_iterations` iterations: the policy of
cellwak's Python path (`cellwak.graph.leiden._until_stable`, its `TOLERANCE` and
`MAX_ITERATIONS` passed in by Python). Same graph + same `seed` give the same labels.

Returns **0-based** labels renumbered by cluster size, largest first. `leiden_run` takes the
same arguments and returns `(labels, iterations)`, the number of iterations run (a rejected last
iteration included).
"""
leiden(A::AbstractMatrix{<:Real}, gamma::Real=1.0; kwargs...) = first(leiden_run(A, gamma; kwargs...))

function leiden_run(A::AbstractSparseMatrix{<:Real}, gamma::Real=1.0; seed::Integer=0,
                n_iterations::Integer=2, beta::Real=0.01, initial=nothing, tolerance::Real=1e-12,
                max_iterations::Integer=20)
    n = check_undirected(A)
    beta > 0 || throw(ArgumentError("beta must be positive, got $beta"))
    gamma >= 0 || throw(ArgumentError("gamma must be non-negative, got $gamma"))
    n_iterations == 0 && throw(ArgumentError("n_iterations must be positive, or negative for 'until stable'"))
    tolerance >= 0 || throw(ArgumentError("tolerance must be non-negative, got $tolerance"))
    max_iterations >= 1 || throw(ArgumentError("max_iterations must be at least 1, got $max_iterations"))
    g = LGraph(SparseMatrixCSC{Float64,Int}(A))
    g.two_w > 0 || return zeros(Int, n), 0
    rng = MersenneTwister(seed)
    membership = initial === nothing ? collect(1:n) : compact_labels(initial)[1]
    length(membership) == n || throw(DimensionMismatch("$(length(membership)) initial labels for $n nodes"))
    quality = -Inf
    iteration = 0
    limit = n_iterations < 0 ? max_iterations : n_iterations
    while iteration < limit
        iteration += 1
        candidate = leiden_iteration(g, membership, Float64(gamma), Float64(beta), rng)
        n_iterations < 0 || (membership = candidate; continue)
        q = modularity(A, candidate, gamma)
        if iteration == 1
            membership, quality = candidate, q
            continue
        end
        gain = q - quality
        gain > 0 && ((membership, quality) = (candidate, q))     # a losing iteration is dropped
        gain <= tolerance * max(abs(quality), 1e-12) && break   # too small a gain ends the run (kept if > 0)
    end
    return renumber_by_size(membership), iteration
end

leiden_run(A::AbstractMatrix{<:Real}, gamma::Real=1.0; kwargs...) = leiden_run(sparse(A), gamma; kwargs...)

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
