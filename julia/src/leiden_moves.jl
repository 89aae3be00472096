# The two node-moving phases of Leiden (Traag, Waltman & van Eck 2019, Algorithms A.2):
# fast local moving of nodes, and the randomised refinement inside each community.
#
# Quality (unnormalised, edge units): H = Σ_c (e_c − γ K_c² / (2·2w)) with e_c the internal edge
# weight (each edge once) and K_c the total degree; moving node v (degree k_v) out of its
# community into community C changes H by  w(v, C) − γ k_v K_C / 2w  minus the same expression for
# its own community without v (w(v, C) = weight between v and C, 2w = Σ_uv A_uv). Modularity is
# H / w, so these moves maximise modularity with resolution γ.

"""Per-level scratch: weight from the current node to each community and which are touched."""
struct Scratch
    w_to::Vector{Float64}
    seen::Vector{Bool}
    touched::Vector{Int}
end
Scratch(n::Int) = Scratch(zeros(n), falses(n), Int[])

# Sum the weight from v to the communities `label` of its neighbours (self-loop skipped); when
# `within` > 0 only neighbours with `comm[u] == within` count.
function gather!(s::Scratch, g::LGraph, v::Int, label::Vector{Int}, comm::Vector{Int}, within::Int)
    @inbounds for e in edges_of(g, v)
        u = g.nbr[e]
        u == v && continue
        within > 0 && comm[u] != within && continue
        c = label[u]
        if !s.seen[c]
            s.seen[c] = true
            push!(s.touched, c)
        end
        s.w_to[c] += g.wt[e]
    end
    return s.touched
end

function reset!(s::Scratch)
    @inbounds for c in s.touched
        s.w_to[c] = 0.0
        s.seen[c] = false
    end
    empty!(s.touched)
    return s
end

"""
    move_nodes_fast!(g, p, gamma, rng, s) -> number of moves

Visit nodes from a queue (initially all, in random order); move each to the community with the
largest strictly positive gain over staying (an empty community counts, gain 0); after a move,
queue the neighbours that are outside the new community and not queued yet. Ends when the
queue is empty.
"""
function move_nodes_fast!(g::LGraph, p::Partition, gamma::Float64, rng::AbstractRNG, s::Scratch)
    n = g.n
    queue = randperm(rng, n)
    queued = trues(n)
    head, count = 1, n
    moves = 0
    scale = gamma / g.two_w
    @inbounds while count > 0
        v = queue[head]
        head = head == n ? 1 : head + 1
        count -= 1
        queued[v] = false
        old = p.comm[v]
        kv = g.degree[v]
        gather!(s, g, v, p.comm, p.comm, 0)
        p.total[old] -= kv
        p.size[old] -= 1
        best = old
        best_gain = s.w_to[old] - scale * kv * p.total[old]
        for c in s.touched
            gain = s.w_to[c] - scale * kv * p.total[c]
            if gain > best_gain
                best, best_gain = c, gain
            end
        end
        if best_gain < 0 && p.size[old] > 0     # alone is better than any community
            best = pop!(p.empty)
        end
        p.comm[v] = best
        p.total[best] += kv
        p.size[best] += 1
        reset!(s)
        best == old && continue
        moves += 1
        p.size[old] == 0 && push!(p.empty, old)
        for e in edges_of(g, v)
            u = g.nbr[e]
            if !queued[u] && p.comm[u] != best
                queued[u] = true
                tail = head + count
                queue[tail > n ? tail - n : tail] = u
                count += 1
            end
        end
    end
    return moves
end

"""
    refine(g, p, gamma, theta, rng, s) -> (labels, c)

Refinement of partition `p`: start from singletons; visit nodes in random order; a node that is
still a singleton and well connected to its community S (w(v, S−v) ≥ γ k_v (K_S − k_v)/2w) may
merge with a well-connected refined community C ⊆ S (w(C, S−C) ≥ γ K_C (K_S − K_C)/2w) with
gain ΔH ≥ 0, chosen at random with probability ∝ exp(ΔH / θ) (staying alone has ΔH = 0).
Returns refined labels in 1..c, each refined community inside one community of `p`.
"""
function refine(g::LGraph, p::Partition, gamma::Float64, theta::Float64, rng::AbstractRNG, s::Scratch)
    n = g.n
    scale = gamma / g.two_w
    label = collect(1:n)
    total = copy(g.degree)
    size_ = ones(Int, n)
    ext_v = zeros(n)                       # w(v, S − v)
    @inbounds for v in 1:n, e in edges_of(g, v)
        u = g.nbr[e]
        if u != v && p.comm[u] == p.comm[v]
            ext_v[v] += g.wt[e]
        end
    end
    ext = copy(ext_v)                      # w(C, S − C) of refined community C
    cand = Int[]
    weight = Float64[]
    @inbounds for v in randperm(rng, n)
        size_[label[v]] == 1 || continue
        S = p.comm[v]
        KS = p.total[S]
        kv = g.degree[v]
        ext_v[v] >= scale * kv * (KS - kv) || continue
        gather!(s, g, v, label, p.comm, S)
        empty!(cand)
        empty!(weight)
        push!(cand, label[v])
        push!(weight, 0.0)
        for c in s.touched
            ext[c] >= scale * total[c] * (KS - total[c]) || continue
            gain = s.w_to[c] - scale * kv * total[c]
            gain >= 0 || continue
            push!(cand, c)
            push!(weight, gain)
        end
        chosen = sample_exp(cand, weight, theta, rng)
        if chosen != label[v]
            old = label[v]
            size_[old] = 0
            total[old] = 0.0
            label[v] = chosen
            size_[chosen] += 1
            total[chosen] += kv
            ext[chosen] += ext_v[v] - 2 * s.w_to[chosen]
        end
        reset!(s)
    end
    c = compact!(label)
    return label, c
end

# Draw cand[i] with probability ∝ exp(weight[i] / theta) (computed relative to the maximum).
function sample_exp(cand::Vector{Int}, weight::Vector{Float64}, theta::Float64, rng::AbstractRNG)
    length(cand) == 1 && return cand[1]
    top = maximum(weight)
    acc = 0.0
    for i in eachindex(weight)
        weight[i] = exp((weight[i] - top) / theta)
        acc += weight[i]
    end
    r = rand(rng) * acc
    for i in eachindex(weight)
        r -= weight[i]
        r < 0 && return cand[i]
    end
    return cand[argmax(weight)]
end
