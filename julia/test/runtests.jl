# Julia-side tests of CellWAK (standard library only):
#   .cache/julia/bin/julia --startup-file=no julia/test/runtests.jl

using Test, LinearAlgebra, SparseArrays, Random

include(joinpath(@__DIR__, "..", "src", "CellWAK.jl"))
using .CellWAK

"Brute-force neighbours: full distance matrix, self excluded, sorted by (distance, index)."
function brute_knn(X, k)
    n = size(X, 2)
    D = [norm(X[:, i] - X[:, j]) for i in 1:n, j in 1:n]
    idx = zeros(Int, k, n)
    for i in 1:n
        order = sort([j for j in 1:n if j != i]; by=j -> (D[i, j], j))
        idx[:, i] = order[1:k]
    end
    return idx, D
end

"Four dense blocks with sparse links between them."
function planted_graph(rng; sizes=(30, 25, 20, 15), p_in=0.5, p_out=0.01)
    truth = vcat([fill(b, s) for (b, s) in enumerate(sizes)]...)
    n = length(truth)
    I, J = Int[], Int[]
    for i in 1:n, j in (i + 1):n
        if rand(rng) < (truth[i] == truth[j] ? p_in : p_out)
            push!(I, i, j)
            push!(J, j, i)
        end
    end
    return sparse(I, J, ones(length(I)), n, n), truth
end

same_partition(a, b) = length(unique(zip(a, b))) == length(unique(a)) == length(unique(b))

@testset "CellWAK" begin
    rng = MersenneTwister(7)

    @testset "knn_exact" begin
        X = randn(rng, 6, 80)
        ref, D = brute_knn(X, 5)
        for bs in (1, 7, 80, 200)
            idx, dist = knn_exact(X, 5; blocksize=bs)
            @test idx == ref
            @test dist ≈ [D[ref[m, i], i] for m in 1:5, i in 1:80]
            @test all(issorted(dist[:, i]) for i in 1:80)
        end
        idx32, dist32 = knn_exact(Float32.(X), 5)
        @test eltype(dist32) == Float32
        @test idx32 == ref
        @test_throws ArgumentError knn_exact(X, 80)
    end

    @testset "knn_adjacency and symmetrize" begin
        X = randn(rng, 3, 50)
        idx, _ = knn_exact(X, 4)
        G = knn_adjacency(idx, 50)
        @test all(vec(sum(G; dims=2)) .== 4)
        @test all(G[i, i] == 0 for i in 1:50)
        @test all(G[i, idx[m, i]] == 1 for i in 1:50, m in 1:4)
        U, M = symmetrize(G, :union), symmetrize(G, :mutual)
        @test issymmetric(U) && issymmetric(M)
        @test all(U .>= G) && all(M .<= G)
        @test nnz(U) + nnz(M) == 2 * nnz(G)
        @test_throws ArgumentError symmetrize(G, :other)
    end

    @testset "wak, pwak, partition_matrix" begin
        A = sprand(rng, 40, 40, 0.2) + sparse(I, 40, 40)
        W = wak(A)
        s = vec(sum(A; dims=1)) - diag(A)
        @test all(diag(W) .== 0) && all(W[i, i] == 0 for i in 1:40)
        @test vec(sum(W; dims=1)) ≈ s ./ (s .+ CellWAK.WAK_EPS)
        @test Matrix(W) ≈ wak(Matrix(A))
        Wr = wak(A; norm=:row)
        r = vec(sum(A; dims=2)) - diag(A)
        @test vec(sum(Wr; dims=2)) ≈ r ./ (r .+ CellWAK.WAK_EPS)
        @test_throws ArgumentError wak(A; norm=:diag)

        y = rand(rng, 1:4, 30)
        P = partition_matrix(y)
        @test P == sparse([Float64(y[i] == y[j]) for i in 1:30, j in 1:30])
        @test wak(P) ≈ wak(P; norm=:row)                       # hard partitions: col = row WAK
        C = zeros(4, 30)
        for (i, c) in enumerate(y)
            C[c, i] = 1
        end
        @test pwak(C) ≈ Matrix(wak(P))
        Csoft = rand(rng, 3, 10)
        Csoft ./= sum(Csoft; dims=1)
        @test pwak(Csoft) ≈ wak(transpose(Csoft) * Csoft)
    end

    @testset "noise2self" begin
        X = randn(rng, 5, 60)
        idx, _ = knn_exact(X, 6)
        W = wak(symmetrize(knn_adjacency(idx, 60)))
        est = denoise(X, W)
        @test est ≈ X * transpose(Matrix(W))
        @test noise2self_loss(X, W) ≈ sum(abs2, est - X) / length(X)
        X2 = copy(X)
        X2[:, 3] .+= 100                                        # J-invariance
        @test denoise(X2, W)[:, 3] ≈ est[:, 3]
    end

    @testset "modularity" begin
        # two triangles joined by one edge
        I_ = [1, 2, 1, 3, 2, 3, 4, 5, 4, 6, 5, 6, 3, 4]
        J_ = [2, 1, 3, 1, 3, 2, 5, 4, 6, 4, 6, 5, 4, 3]
        A = sparse(I_, J_, ones(14), 6, 6)
        labels = [0, 0, 0, 1, 1, 1]
        @test modularity(A, labels, 1.0) ≈ 6 / 7 - 2 * (7 / 14)^2
        Ad = Matrix(A)
        k = vec(sum(Ad; dims=2))
        for γ in (0.5, 1.0, 2.0)
            ref = sum(Ad[i, j] - γ * k[i] * k[j] / sum(Ad) for i in 1:6, j in 1:6 if labels[i] == labels[j]) / sum(Ad)
            @test modularity(A, labels, γ) ≈ ref
            @test modularity(A, ["a", "a", "a", "b", "b", "b"], γ) ≈ ref
        end
        @test_throws ArgumentError modularity(sparse([1], [2], [1.0], 2, 2), [0, 1])
    end

    @testset "leiden" begin
        A, truth = planted_graph(rng)
        labels = leiden(A, 1.0; seed=3)
        @test same_partition(labels, truth)
        @test sort(unique(labels)) == 0:3
        @test [count(==(c), labels) for c in 0:3] == [30, 25, 20, 15]   # largest first
        @test leiden(A, 1.0; seed=3) == labels
        @test leiden(A, 1.0; seed=11, n_iterations=-1) |> l -> same_partition(l, truth)
        @test renumber_by_size([5, 5, 2, 9, 9, 9]) == [1, 1, 2, 0, 0, 0]

        # weighted graph with self-loops and an isolated node; quality never below the start
        B = sprand(rng, 60, 60, 0.1)
        B = B + transpose(B) + spdiagm(0 => rand(rng, 60))
        B[:, 60] .= 0
        B[60, :] .= 0
        B = dropzeros(B)
        lb = leiden(B, 1.0; seed=1)
        @test length(lb) == 60
        @test modularity(B, lb, 1.0) > modularity(B, zeros(Int, 60), 1.0)
        @test modularity(B, lb, 1.0) >= modularity(B, collect(1:60), 1.0)
        # higher resolution gives more clusters
        @test maximum(leiden(A, 0.2; seed=1)) < maximum(leiden(A, 5.0; seed=1))
    end

    @testset "dewak losses, pwak_apply, Leiden iteration policy" begin
        X, E = randn(rng, 5, 200), randn(rng, 3, 200)
        idx, s = dewak_neighbours(E, 8)
        ks = [1, 4, 8]
        for norm in (:col, :row)
            L = dewak_losses(X, idx, s, ks; norm=norm)
            for (q, k) in enumerate(ks)
                A = sparse(repeat(1:200, inner=k), vec(idx[1:k, :]), Float64.(vec(s[1:k, :])), 200, 200)
                W = norm === :col ? wak(A; norm=:col) : spdiagm(0 => 1.0 ./ vec(sum(A; dims=2))) * A
                @test L[q] ≈ noise2self_loss(X, W) rtol=1e-12
            end
        end
        C = rand(rng, 4, 60)
        C ./= sum(C; dims=1)
        F = randn(rng, 3, 60)
        for norm in (:col, :row)
            @test pwak_apply(C, F; norm=norm) ≈ denoise(F, pwak(C; norm=norm)) rtol=1e-10
        end
        A = sparse(Symmetric(sprand(rng, 150, 150, 0.06) .> 0) * 1.0)
        one, it1 = CellWAK.leiden_run(A, 1.0; n_iterations=1)
        @test CellWAK.leiden_run(A, 1.0; n_iterations=-1, max_iterations=1) == (one, 1)
        @test CellWAK.leiden_run(A, 1.0; n_iterations=-1, tolerance=1.0)[2] == 2
        strict, its = CellWAK.leiden_run(A, 1.0; n_iterations=-1, tolerance=0.0)
        @test 2 <= its <= 20 && modularity(A, strict) >= modularity(A, one) - 1e-12
    end

    @testset "request files" begin
        mktempdir() do dir
            X = randn(rng, Float32, 4, 30)
            write(joinpath(dir, "X.bin"), X)
            open(joinpath(dir, "request.txt"), "w") do io
                println(io, "cellwak-kernels 1")
                println(io, "array X float32 30,4 X.bin")
                println(io, "op nn knn_exact X=@X k=3")
                println(io, "op g knn_graph X=@X k=3 mode=union")
            end
            @test CellWAK.run_request(dir)
            lines = readlines(joinpath(dir, "response.txt"))
            @test lines[1] == "cellwak-kernels 1"
            @test "array nn.indices int64 30,3 nn.indices.bin" in lines
            got = Array{Int64}(undef, 3, 30)
            read!(joinpath(dir, "nn.indices.bin"), got)
            @test got .+ 1 == knn_exact(X, 3)[1]
            open(joinpath(dir, "request.txt"), "w") do io
                println(io, "cellwak-kernels 1")
                println(io, "op bad no_such_op")
            end
            @test !CellWAK.run_request(dir)
            @test any(startswith("error bad: ArgumentError: unknown operation"), readlines(joinpath(dir, "response.txt")))
        end
    end
end
