# Operations reachable through the request format of kernel_io.jl, and the request runner.
#
#   knn_exact       X=@X k= [blocksize=]               -> indices (0-based), distances
#   knn_graph       X=@X k= [mode=union|mutual|directed] -> G (sparse, binary)
#   wak             A=@A [norm=col|row]                -> W (sparse)
#   pwak            C=@C [norm=col|row]                -> W (dense, cells × cells)
#   partition_matrix labels=@y                         -> P (sparse)
#   noise2self      X=@X A=@A [norm=col|row] [wak=true|false] -> value loss
#   modularity      A=@A labels=@y [gamma=1]           -> value modularity
#   pwak_apply      C=@C E=@E [norm=col|row]           -> estimate (cells, dims): WAK(C Cᵀ) E, no n × n matrix
#   leiden          A=@A [gamma=1] [seed=0] [n_iterations=2] [beta=0.01] [tolerance=1e-12] [max_iterations=20]
#                   -> labels, values modularity, n_clusters, iterations
#   leiden_many     A=@A gammas=@g seeds=@s [n_iterations=2] [beta=0.01] [tolerance=1e-12] [max_iterations=20]
#                   -> labels (runs, cells): one run per (gammas[r], seeds[r]), runs spread over threads
#   dewak_losses    X=@X ks=@ks [norm=col|row] and either E=@E d= k_max= (search the first d PCs, return
#                   indices (0-based) and affinities) or indices=@I affinities=@S (lists searched before)
#                   -> losses (one per k), values knn_seconds
#
# Data matrices (X) are numpy (cells, features) = Julia features × cells; C is numpy
# (cells, clusters); every op also reports `value <id>.seconds` (compute time in Julia).

struct OpParams
    op::KernelOp
    arrays::Dict{String,Any}
end

function param(p::OpParams, key::String, default=nothing)
    raw = get(p.op.params, key, nothing)
    raw === nothing && default === nothing && throw(ArgumentError("$(p.op.name) needs $key="))
    return raw === nothing ? default : raw
end

function array_param(p::OpParams, key::String)
    ref = param(p, key)
    startswith(ref, "@") || throw(ArgumentError("$key must refer to an array as @name, got $ref"))
    haskey(p.arrays, ref[2:end]) || throw(ArgumentError("$key refers to unknown array $ref"))
    return p.arrays[ref[2:end]]
end

int_param(p, key, default=nothing) = parse(Int, param(p, key, default === nothing ? nothing : string(default)))
float_param(p, key, default=nothing) = parse(Float64, param(p, key, default === nothing ? nothing : string(default)))
symbol_param(p, key, default) = Symbol(param(p, key, string(default)))
bool_param(p, key, default) = parse(Bool, param(p, key, string(default)))

function op_knn_exact(p, r, id)
    X = array_param(p, "X")
    idx, dist = knn_exact(X, int_param(p, "k"); blocksize=int_param(p, "blocksize", default_blocksize(size(X, 2))))
    put_array!(r, "$id.indices", Int64.(idx) .- 1)
    put_array!(r, "$id.distances", dist)
end

function op_knn_graph(p, r, id)
    X = array_param(p, "X")
    idx, _ = knn_exact(X, int_param(p, "k"))
    G = knn_adjacency(idx, size(X, 2))
    mode = symbol_param(p, "mode", :union)
    put_sparse!(r, "$id.G", mode === :directed ? G : symmetrize(G, mode))
end

op_wak(p, r, id) = put_sparse!(r, "$id.W", wak(array_param(p, "A"); norm=symbol_param(p, "norm", :col)))

op_pwak(p, r, id) = put_array!(r, "$id.W", permutedims(pwak(array_param(p, "C"); norm=symbol_param(p, "norm", :col))))

op_partition_matrix(p, r, id) = put_sparse!(r, "$id.P", partition_matrix(vec(array_param(p, "labels"))))

function op_noise2self(p, r, id)
    A = array_param(p, "A")
    W = bool_param(p, "wak", true) ? wak(A; norm=symbol_param(p, "norm", :col)) : A
    put_value!(r, "$id.loss", noise2self_loss(array_param(p, "X"), W))
end

op_modularity(p, r, id) = put_value!(r, "$id.modularity",
    modularity(array_param(p, "A"), vec(array_param(p, "labels")), float_param(p, "gamma", 1.0)))

op_pwak_apply(p, r, id) = put_array!(r, "$id.estimate",
    pwak_apply(array_param(p, "C"), array_param(p, "E"); norm=symbol_param(p, "norm", :col)))

leiden_options(p) = (n_iterations=int_param(p, "n_iterations", 2), beta=float_param(p, "beta", 0.01),
                     tolerance=float_param(p, "tolerance", 1e-12), max_iterations=int_param(p, "max_iterations", 20))

function op_leiden(p, r, id)
    A = array_param(p, "A")
    gamma = float_param(p, "gamma", 1.0)
    labels, iterations = leiden_run(A, gamma; seed=int_param(p, "seed", 0), leiden_options(p)...)
    put_array!(r, "$id.labels", Int64.(labels))
    put_value!(r, "$id.modularity", modularity(A, labels, gamma))
    put_value!(r, "$id.n_clusters", isempty(labels) ? 0 : maximum(labels) + 1)
    put_value!(r, "$id.iterations", iterations)
end

function op_leiden_many(p, r, id)
    A = array_param(p, "A")
    gammas = vec(Float64.(array_param(p, "gammas")))
    seeds = vec(Int.(array_param(p, "seeds")))
    length(gammas) == length(seeds) || throw(DimensionMismatch("$(length(gammas)) gammas, $(length(seeds)) seeds"))
    options = leiden_options(p)
    check_undirected(A)                        # once, before the threads start
    labels = Matrix{Int64}(undef, size(A, 1), length(gammas))
    Threads.@threads for run in eachindex(gammas)
        labels[:, run] = leiden(A, gammas[run]; seed=seeds[run], options...)
    end
    put_array!(r, "$id.labels", labels)
end

function op_dewak_losses(p, r, id)
    X = array_param(p, "X")
    ks = vec(Int.(array_param(p, "ks")))
    norm = symbol_param(p, "norm", :col)
    t = time()
    if haskey(p.op.params, "E")
        E = array_param(p, "E")
        d = int_param(p, "d")
        1 <= d <= size(E, 1) || throw(ArgumentError("d must be in 1..$(size(E, 1)), got $d"))
        idx, s = dewak_neighbours(E[1:d, :], int_param(p, "k_max"))
        put_array!(r, "$id.indices", Int64.(idx) .- 1)
        put_array!(r, "$id.affinities", s)
    else
        idx = Int.(array_param(p, "indices")) .+ 1
        s = array_param(p, "affinities")
    end
    put_value!(r, "$id.knn_seconds", time() - t)
    put_array!(r, "$id.losses", dewak_losses(X, idx, s, ks; norm=norm))
end

const KERNEL_OPS = Dict{String,Function}(
    "knn_exact" => op_knn_exact, "knn_graph" => op_knn_graph, "wak" => op_wak, "pwak" => op_pwak,
    "partition_matrix" => op_partition_matrix, "noise2self" => op_noise2self,
    "pwak_apply" => op_pwak_apply, "modularity" => op_modularity, "leiden" => op_leiden,
    "leiden_many" => op_leiden_many, "dewak_losses" => op_dewak_losses)

"""
    run_request(dir) -> Bool

Read `dir/request.txt`, run its ops in order and write `dir/response.txt`; false when an op
failed (its error is in the response, later ops are skipped).
"""
function run_request(dir::AbstractString)
    r = KernelResponse(dir)
    ok = true
    current = "request"
    try
        req = read_request(dir)
        for op in req.ops
            current = op.id
            f = get(KERNEL_OPS, op.name, nothing)
            f === nothing && throw(ArgumentError("unknown operation $(op.name); known: $(join(sort(collect(keys(KERNEL_OPS))), ", "))"))
            t = time()
            f(OpParams(op, req.arrays), r, op.id)
            put_value!(r, "$(op.id).seconds", time() - t)
        end
    catch e
        e isa InterruptException && rethrow()
        put_error!(r, current, e)
        ok = false
    end
    write_response(r)
    return ok
end
