# The file exchange format between Python and `bin/cellwak_kernels.jl` (version 1).
#
# A request is a folder holding `request.txt` and raw little-endian array files. `request.txt`:
#
#     cellwak-kernels 1
#     array  <name> <dtype> <shape> <file>      dtype: float32 float64 int32 int64
#     sparse <name> <nrows>,<ncols> <indptr> <indices> <data>
#     op     <id> <operation> key=value ...     a value `@name` refers to an array or sparse
#
# * `<shape>` is numpy's (row-major) shape, comma separated; the file holds the C-order bytes.
#   Julia reads the reversed shape, so a numpy (cells, features) matrix arrives as the Julia
#   features × cells matrix with no copy or transpose.
# * `sparse` assembles a matrix from three arrays named earlier, in scipy's CSC layout with
#   0-based `indptr`/`indices`: the same matrix in both languages (row i = cell i).
# * ops run in order; each writes its results as `<id>.<result>`.
#
# The answer is `response.txt` in the same folder, in the same format (array / sparse lines
# for results, whose files the answer also holds) plus `value <id>.<name> <number>` lines and,
# when something failed, one `error <id>: <message>` line (results of earlier ops are kept).
# Dense cell × cell results are written in numpy (row-major) layout. Indices of cells in
# results are 0-based.

const FORMAT_HEADER = "cellwak-kernels 1"

const DTYPES = Dict("float32" => Float32, "float64" => Float64, "int32" => Int32, "int64" => Int64)
const DTYPE_NAMES = Dict(v => k for (k, v) in DTYPES)

struct KernelOp
    id::String
    name::String
    params::Dict{String,String}
end

struct KernelRequest
    dir::String
    arrays::Dict{String,Any}
    ops::Vector{KernelOp}
end

valid_name(s) = occursin(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", s)

function check_name(s)
    valid_name(s) || throw(ArgumentError("bad name '$s' in request (letters, digits, _ . - only)"))
    return s
end

parse_shape(s) = Tuple(parse(Int, t) for t in split(s, ','))

function read_array(dir, file, T, shape)
    ENDIAN_BOM == 0x04030201 || error("only little-endian machines are supported")
    a = Array{T}(undef, reverse(shape)...)
    path = joinpath(dir, check_name(file))
    filesize(path) == sizeof(a) || throw(ArgumentError("$file holds $(filesize(path)) bytes, expected $(sizeof(a))"))
    read!(path, a)
    return a
end

function read_request(dir::AbstractString)
    lines = readlines(joinpath(dir, "request.txt"))
    (isempty(lines) || strip(lines[1]) != FORMAT_HEADER) &&
        throw(ArgumentError("request.txt must start with '$FORMAT_HEADER'"))
    arrays = Dict{String,Any}()
    ops = KernelOp[]
    for line in lines[2:end]
        t = split(strip(line))
        (isempty(t) || startswith(t[1], "#")) && continue
        if t[1] == "array" && length(t) == 5
            haskey(DTYPES, t[3]) || throw(ArgumentError("unknown dtype $(t[3])"))
            arrays[check_name(t[2])] = read_array(dir, t[5], DTYPES[t[3]], parse_shape(t[4]))
        elseif t[1] == "sparse" && length(t) == 6
            m, n = parse_shape(t[3])
            colptr, rows, vals = (arrays[String(x)] for x in t[4:6])
            arrays[check_name(t[2])] = SparseMatrixCSC(m, n, Vector{Int}(colptr) .+ 1,
                                                       Vector{Int}(rows) .+ 1, Vector{Float64}(vals))
        elseif t[1] == "op" && length(t) >= 3
            params = Dict{String,String}()
            for kv in t[4:end]
                key, value = split(kv, '='; limit=2)
                params[String(key)] = String(value)
            end
            push!(ops, KernelOp(check_name(String(t[2])), String(t[3]), params))
        else
            throw(ArgumentError("cannot read request line: $line"))
        end
    end
    return KernelRequest(String(dir), arrays, ops)
end

"""Collects results and writes them as `response.txt` plus array files."""
mutable struct KernelResponse
    dir::String
    lines::Vector{String}
end
KernelResponse(dir) = KernelResponse(String(dir), [FORMAT_HEADER])

function put_array!(r::KernelResponse, name::String, a::AbstractArray)
    T = eltype(a)
    haskey(DTYPE_NAMES, T) || (a = T <: Integer ? Int64.(a) : Float64.(a); T = eltype(a))
    file = name * ".bin"
    write(joinpath(r.dir, file), a)
    shape = join(reverse(size(a)), ",")
    push!(r.lines, "array $name $(DTYPE_NAMES[T]) $shape $file")
end

function put_sparse!(r::KernelResponse, name::String, S::SparseMatrixCSC)
    put_array!(r, name * ".indptr", Int64.(S.colptr) .- 1)
    put_array!(r, name * ".indices", Int64.(rowvals(S)) .- 1)
    put_array!(r, name * ".data", Float64.(nonzeros(S)))
    push!(r.lines, "sparse $name $(size(S, 1)),$(size(S, 2)) $name.indptr $name.indices $name.data")
end

put_value!(r::KernelResponse, name::String, x::Real) = push!(r.lines, "value $name $(repr(Float64(x)))")

function put_error!(r::KernelResponse, id::String, e)
    msg = replace(first(split(sprint(showerror, e), '\n')), r"\s+" => " ")
    push!(r.lines, "error $id: $msg")
end

function write_response(r::KernelResponse)
    tmp = joinpath(r.dir, "response.txt.part")
    open(tmp, "w") do io
        foreach(l -> println(io, l), r.lines)
    end
    mv(tmp, joinpath(r.dir, "response.txt"); force=true)
end
