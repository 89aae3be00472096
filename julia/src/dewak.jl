# DEWAK: the noise2self loss of the kNN kernel for many k from one neighbour search
# (deepwak.md 1.7; the same maths as cellwak/tl/_dewak_loss.py).
#
# For one embedding (the first d PCs) every cell's K nearest neighbours are searched once,
# nearest first; the kNN graph for any k <= K is the first k of that list. With
# s_ir = 1 / (dist(i, j_ir) + ε) the affinity of cell i to its r-th neighbour j_ir:
#
#     column-normalised  W_ij = s_ij / (c_j(k) + ε),  c_j(k) = Σ s_lj over cells l listing j
#                        among their first k neighbours  (= wak(A; norm=:col) of A_ij = s_ij)
#     row-normalised     W_ij = s_ij / Σ_{r<=k} s_ir
#
# and L(k) = mean over cells and features of (x_i − Σ_{r<=k} W_{i j_ir} x_{j_ir})².

"""
    dewak_neighbours(E, k; eps=WAK_EPS) -> (idx, s)

Exact k nearest neighbours of the columns (cells) of the `d × n` embedding `E` (`knn_exact`,
1-based, nearest first, ties by smaller index) and their affinities `s = 1 / (dist + eps)`, as
Float32 like cellwak's Python path stores them.
"""
function dewak_neighbours(E::AbstractMatrix{<:Real}, k::Integer; eps::Real=WAK_EPS)
    idx, dist = knn_exact(E, k)
    s = Float32.(1.0 ./ (Float64.(dist) .+ eps))
    return idx, s
end

"""
    dewak_losses(X, idx, s, ks; norm=:col, eps=WAK_EPS) -> Vector{Float64}

L(k) for each `k` of `ks` (ascending, within 1..size(idx, 1)) on the `m × n` data `X`, from the
neighbour lists `idx` (`K × n`, 1-based) and affinities `s` (`K × n`). Cells are split over
threads; sums are Float64.
"""
function dewak_losses(X::AbstractMatrix{<:Real}, idx::AbstractMatrix{<:Integer}, s::AbstractMatrix{<:Real},
                      ks::AbstractVector{<:Integer}; norm::Symbol=:col, eps::Real=WAK_EPS)
    m, n = size(X)
    K = size(idx, 1)
    size(idx, 2) == n || throw(DimensionMismatch("idx has $(size(idx, 2)) columns for $n cells"))
    size(s) == size(idx) || throw(DimensionMismatch("s is $(size(s)), idx $(size(idx))"))
    issorted(ks) && !isempty(ks) && first(ks) >= 1 && last(ks) <= K ||
        throw(ArgumentError("ks must be ascending within 1..$K"))
    norm === :col || norm === :row || throw(ArgumentError("norm must be :col or :row, got :$norm"))
    Xf = Matrix{Float64}(X)
    sf = Matrix{Float64}(s)
    inv = norm === :col ? inverse_column_sums(idx, sf, ks, n, eps) : zeros(0, 0)
    nt = Threads.nthreads()
    partial = zeros(length(ks), nt)
    chunks = collect(Iterators.partition(1:n, cld(n, nt)))
    Threads.@threads for t in 1:length(chunks)
        pred = zeros(m)
        acc = view(partial, :, t)
        for i in chunks[t]
            cell_errors!(acc, pred, Xf, idx, sf, ks, inv, i, norm)
        end
    end
    return vec(sum(partial; dims=2)) ./ (n * m)
end

# 1 / (c_j(k) + eps) for every requested k: (n, length(ks)), by a running sum over ranks.
function inverse_column_sums(idx, s, ks, n, eps)
    out = zeros(n, length(ks))
    c = zeros(n)
    q = 1
    @inbounds for r in 1:last(ks)
        for i in 1:size(idx, 2)
            c[idx[r, i]] += s[r, i]
        end
        while q <= length(ks) && ks[q] == r
            out[:, q] .= 1.0 ./ (c .+ eps)
            q += 1
        end
    end
    return out
end

# Add cell i's squared error for every k of ks to acc (row: cumulative sums over ranks).
function cell_errors!(acc, pred, X, idx, s, ks, inv, i, norm::Symbol)
    m = size(X, 1)
    if norm === :row
        fill!(pred, 0.0)
        den = 0.0
        r = 0
        @inbounds for (q, k) in enumerate(ks)
            while r < k
                r += 1
                j = idx[r, i]
                w = s[r, i]
                den += w
                for f in 1:m
                    pred[f] += w * X[f, j]
                end
            end
            e = 0.0
            for f in 1:m
                e += abs2(pred[f] / den - X[f, i])
            end
            acc[q] += e
        end
        return
    end
    @inbounds for (q, k) in enumerate(ks)
        fill!(pred, 0.0)
        for r in 1:k
            j = idx[r, i]
            w = s[r, i] * inv[j, q]
            for f in 1:m
                pred[f] += w * X[f, j]
            end
        end
        e = 0.0
        for f in 1:m
            e += abs2(pred[f] - X[f, i])
        end
        acc[q] += e
    end
end
