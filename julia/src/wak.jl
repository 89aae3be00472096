# WAK / PWAK kernels, partition matrices and the noise2self loss (deepwak.md 1.2 items 5-7, 1.3).

"""The ε of deepwak.md 1.2: float32 machine epsilon, added to every normalising sum."""
const WAK_EPS = Float64(eps(Float32))

"""
    wak(A; norm=:col, epsilon=WAK_EPS)

Weighted affinity kernel of a non-negative `n × n` matrix: zero the diagonal, then divide each
column (`norm=:col`: `W[i,j] = A[i,j] / (Σ_l A[l,j] + ε)`, columns sum to 1) or each row
(`norm=:row`: `W[i,j] = A[i,j] / (Σ_l A[i,l] + ε)`, rows sum to 1) by its off-diagonal sum.
Sparse in, sparse out (the diagonal is removed from the structure); dense in, dense out.
"""
function wak(A::AbstractSparseMatrix; norm::Symbol=:col, epsilon::Real=WAK_EPS)
    n = checksquare_(A)
    I, J, V = findnz(A)
    keep = I .!= J
    I, J = I[keep], J[keep]
    V = float.(V[keep])
    sums = norm_sums(I, J, V, n, norm)
    @inbounds for m in eachindex(V)
        V[m] /= sums[norm === :col ? J[m] : I[m]] + epsilon
    end
    return sparse(I, J, V, n, n)
end

function wak(A::AbstractMatrix; norm::Symbol=:col, epsilon::Real=WAK_EPS)
    n = checksquare_(A)
    W = Matrix{float(eltype(A))}(A)
    for i in 1:n
        W[i, i] = 0
    end
    if norm === :col
        W ./= sum(W; dims=1) .+ epsilon
    elseif norm === :row
        W ./= sum(W; dims=2) .+ epsilon
    else
        throw(ArgumentError("norm must be :col or :row, got :$norm"))
    end
    return W
end

function norm_sums(I, J, V, n, norm::Symbol)
    norm === :col || norm === :row || throw(ArgumentError("norm must be :col or :row, got :$norm"))
    sums = zeros(eltype(V), n)
    by = norm === :col ? J : I
    @inbounds for m in eachindex(V)
        sums[by[m]] += V[m]
    end
    return sums
end

function checksquare_(A)
    size(A, 1) == size(A, 2) || throw(DimensionMismatch("expected a square matrix, got $(size(A))"))
    return size(A, 1)
end

"""
    pwak(C; norm=:col) -> dense n × n kernel

Soft partition kernel of `C` (**clusters × cells**, each column a distribution over clusters):
`P = Cᵀ C` (`P[i,j]` = probability that cells i and j share a cluster), then `wak(P)`.
"""
pwak(C::AbstractMatrix{<:Real}; norm::Symbol=:col) = wak(Matrix(transpose(C)) * C; norm=norm)

"""
    partition_matrix(labels) -> sparse n × n

Hard partition matrix: `P[i,j] = 1` iff `labels[i] == labels[j]` (diagonal included; WAK removes it).
"""
function partition_matrix(labels::AbstractVector)
    n = length(labels)
    groups = Dict{eltype(labels),Vector{Int}}()
    for (i, l) in enumerate(labels)
        push!(get!(groups, l, Int[]), i)
    end
    total = mapreduce(g -> length(g)^2, +, values(groups); init=0)
    I = Vector{Int}(undef, total)
    J = Vector{Int}(undef, total)
    m = 0
    for g in values(groups), j in g, i in g
        m += 1
        I[m] = i
        J[m] = j
    end
    return sparse(I, J, ones(Float64, total), n, n)
end

"""
    denoise(X, W) -> d × n

WAK estimate of the `d × n` data: column `i` is `Σ_j W[i,j] X[:,j]` (row `i` of `W E` in the
rows-are-cells notation), i.e. `X * transpose(W)`.
"""
function denoise(X::AbstractMatrix{<:Real}, W::AbstractMatrix{<:Real})
    d, n = size(X)
    size(W) == (n, n) || throw(DimensionMismatch("W must be $n × $n for $n cells, got $(size(W))"))
    return permutedims(W * Matrix{Float64}(transpose(X)))
end

"""
    noise2self_loss(X, W) -> Float64

Mean squared error over all entries between the `d × n` data and `denoise(X, W)`. With a
zero-diagonal `W` (from `wak`) no cell predicts itself, which makes this the noise2self loss.
"""
function noise2self_loss(X::AbstractMatrix{<:Real}, W::AbstractMatrix{<:Real})
    d, n = size(X)
    size(W) == (n, n) || throw(DimensionMismatch("W must be $n × $n for $n cells, got $(size(W))"))
    Xt = Matrix{Float64}(transpose(X))
    est = W * Xt
    s = 0.0
    @inbounds for m in eachindex(est)
        s += abs2(est[m] - Xt[m])
    end
    return s / length(est)
end

"""
    pwak_apply(C, E; norm=:col, epsilon=WAK_EPS) -> d × n

`denoise(E, pwak(C))` without the `n × n` kernel: with `P = Cᵀ C` (`C` clusters × cells, `E`
d × cells), `s_j = c_j ⋅ Σ_l c_l − |c_j|²` (the off-diagonal sums of P),
column normalisation gives `Σ_j W_ij e_j = Σ_j (c_i ⋅ c_j) e_j / (s_j + ε) − |c_i|² e_i / (s_i + ε)`
and row normalisation `(Σ_j (c_i ⋅ c_j) e_j − |c_i|² e_i) / (s_i + ε)`: O(n c d) instead of O(n² d).
"""
function pwak_apply(C::AbstractMatrix{<:Real}, E::AbstractMatrix{<:Real}; norm::Symbol=:col, epsilon::Real=WAK_EPS)
    c, n = size(C)
    size(E, 2) == n || throw(DimensionMismatch("E has $(size(E, 2)) cells, C has $n"))
    norm === :col || norm === :row || throw(ArgumentError("norm must be :col or :row, got :$norm"))
    Cf = Matrix{Float64}(C)
    Ef = Matrix{Float64}(E)
    self_sim = vec(sum(abs2, Cf; dims=1))
    s = vec(transpose(Cf) * vec(sum(Cf; dims=2))) .- self_sim .+ epsilon
    if norm === :col
        scaled = Ef ./ transpose(s)
        return (scaled * transpose(Cf)) * Cf .- scaled .* transpose(self_sim)
    end
    return ((Ef * transpose(Cf)) * Cf .- Ef .* transpose(self_sim)) ./ transpose(s)
end
