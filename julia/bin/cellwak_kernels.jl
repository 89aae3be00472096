# Command-line entry point for cellwak's Julia kernels (the request format: src/kernel_io.jl).
#
#   julia --startup-file=no cellwak_kernels.jl DIR [DIR ...]   run each request folder; exit 1 if one failed
#   julia --startup-file=no cellwak_kernels.jl --serve         read one folder path per stdin line and
#       answer "cellwak-kernels done <path>" on stdout when its response.txt is written (one Julia
#       process for many calls: start-up and compilation are paid once); "ready" first, ends at EOF.

include(joinpath(@__DIR__, "..", "src", "CellWAK.jl"))
using .CellWAK

function serve()
    println(stdout, "cellwak-kernels ready")
    flush(stdout)
    while !eof(stdin)
        dir = strip(readline(stdin))
        isempty(dir) && continue
        CellWAK.run_request(dir)
        println(stdout, "cellwak-kernels done ", dir)
        flush(stdout)
    end
end

function main(args)
    if args == ["--serve"]
        serve()
        return 0
    end
    if isempty(args) || any(startswith("-"), args)
        println(stderr, "usage: cellwak_kernels.jl DIR [DIR ...] | --serve")
        return 2
    end
    ok = true
    for dir in args
        if !CellWAK.run_request(dir)
            ok = false
            for line in readlines(joinpath(dir, "response.txt"))
                startswith(line, "error ") && println(stderr, line)
            end
        end
    end
    return ok ? 0 : 1
end

exit(main(ARGS))
