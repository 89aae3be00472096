# Operations reachable through the request format of kernel_io.jl, and the request runner.
#
#   knn_exact       X=@X k= [blocksize=]               -> indices (0-based), distances
#   knn_graph       X=@X k= [mode=union|mutual|directed] -> G (sparse, binary)
#   wak             A=@A [norm=col|row]                -> W (sparse)
#   pwak            C=@C [norm=col|row]                -> W (dense, cells × cells)
#   partition_matrix labels=@y                         -> P (sparse)
#   noise2self      X=@X A=@A [norm=col|row] [wak=true|false] -> value loss
#   modularity      A=@A labels=@y [gamma=1]           -> value modularity
#   leiden          A=@A [gamma=1] [seed=0] [n_iterations=2] [beta=0.01] -> labels, values modularity, n_clusters
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

function op_leiden(p, r, id)
    A = array_param(p, "A")
    gamma = float_param(p, "gamma", 1.0)
    labels = leiden(A, gamma; seed=int_param(p, "seed", 0), n_iterations=int_param(p, "n_iterations", 2),
                    beta=float_param(p, "beta", 0.01))
    put_array!(r, "$id.labels", Int64.(labels))
    put_value!(r, "$id.modularity", modularity(A, labels, gamma))
    put_value!(r, "$id.n_clusters", isempty(labels) ? 0 : maximum(labels) + 1)
end

const KERNEL_OPS = Dict{String,Function}(
    "knn_exact" => op_knn_exact, "knn_graph" => op_knn_graph, "wak" => op_wak, "pwak" => op_pwak,
    "partition_matrix" => op_partition_matrix, "noise2self" => op_noise2self,
    "modularity" => op_modularity, "leiden" => op_leiden)

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
