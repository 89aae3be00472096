"""Julia through a julia executable (subprocess) or juliacall (in process, Julia >= 1.10).

Where no recent Julia can be installed, juliacall fails on import (it tries to download Julia);
that is detected in a child process with a time limit and reported, never raised.

:class:`JuliaKernels` runs cellwak's Julia kernels (``julia/src/CellWAK.jl``: exact kNN, WAK,
noise2self loss, modularity, Leiden) on numpy / scipy.sparse inputs. Both routes use the same
file exchange format (``julia/src/kernel_io.jl``): arrays are written raw to a temporary folder
and ``CellWAK.run_request`` answers in the same folder, either in this process (juliacall) or in
a long-lived ``julia julia/bin/cellwak_kernels.jl --serve`` child, so Julia starts and compiles
once per :class:`JuliaKernels`, not once per call.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np

from ..errors import CellwakError
from ._julia_io import FORMAT_HEADER, JuliaKernelError, _Request, _read_response
from ._subprocess import last_line, run_quiet

__all__ = ["ENV_JULIA", "ENV_MODE", "FORMAT_HEADER", "INSTALL_HINT", "JuliaKernelError", "JuliaKernels",
           "JuliaUnavailableError", "julia_executable", "require_julia", "shared_kernels", "status"]

ENV_JULIA = "CELLWAK_JULIA"
ENV_MODE = "CELLWAK_JULIA_MODE"          # auto (default) | subprocess | juliacall
INSTALL_HINT = "run `bash julia/install_julia.sh` (or `make julia`), or set CELLWAK_JULIA to a julia executable"


class JuliaUnavailableError(CellwakError):
    """No Julia (neither juliacall nor a julia executable) can run the kernels."""


def local_julia_candidates() -> list[Path]:
    """Where a locally unpacked Julia may live (``julia/install_julia.sh`` writes the first)."""
    import platformdirs

    here = Path(__file__).resolve().parents[2]
    cache = Path(platformdirs.user_cache_dir("cellwak"))
    # bin/julia is the launcher that sets the library path; usr/bin/julia alone does not start.
    return [here / ".cache" / "julia" / "bin" / "julia", cache / "julia" / "bin" / "julia"]


def julia_executable() -> str | None:
    env = os.environ.get(ENV_JULIA)
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("julia")
    if found:
        return found
    return next((str(p) for p in local_julia_candidates() if p.is_file()), None)


def status(check_juliacall: bool = True) -> dict:
    exe = julia_executable()
    result: dict
    if exe is None:
        result = {"status": "missing",
                  "detail": f"no julia executable (put julia on PATH, or {INSTALL_HINT})"}
    else:
        code, out, err = run_quiet([exe, "--startup-file=no", "--version"], timeout=60)
        result = ({"status": "ok", "executable": exe, "version": last_line(out)} if code == 0 else
                  {"status": "error", "executable": exe, "detail": f"julia does not start: {last_line(err)}"})
    if check_juliacall:
        result["juliacall"] = juliacall_status()
    return result


def juliacall_status(timeout: float = 120) -> dict:
    if importlib.util.find_spec("juliacall") is None:
        return {"status": "missing", "detail": "juliacall is not installed; pip install 'cellwak[julia]' (needs Julia >= 1.10)"}
    code, out, err = run_quiet([sys.executable, "-c", "import juliacall; print(juliacall.Main.seval('string(VERSION)'))"],
                               timeout=timeout)
    if code == 0:
        return {"status": "ok", "julia_version": last_line(out)}
    return {"status": "error", "detail": f"juliacall cannot start Julia: {last_line(err) or 'timed out'}"}


_juliacall_ok: bool | None = None


def juliacall_usable(timeout: float = 60) -> bool:
    """Whether juliacall starts Julia (probed once per process, in a child with a time limit)."""
    global _juliacall_ok
    if _juliacall_ok is None:
        _juliacall_ok = juliacall_status(timeout)["status"] == "ok"
    return _juliacall_ok


def kernels_script() -> Path:
    from ..resources import resource_dir

    base = resource_dir("julia")
    path = base / "bin" / "cellwak_kernels.jl" if base else None
    if path is None or not path.is_file():
        raise JuliaUnavailableError("the Julia kernel sources (julia/bin/cellwak_kernels.jl) are not installed with cellwak",
                                    "reinstall cellwak from a checkout or a wheel that carries julia/")
    return path


# ---------------------------------------------------------------------------------------------
# Runners: a `--serve` child process, or juliacall in this process


class _ServeProcess:
    """``julia cellwak_kernels.jl --serve``: one request folder per stdin line."""

    def __init__(self, exe: str, threads: int | None, startup_timeout: float):
        env = dict(os.environ)
        env.setdefault("JULIA_NUM_THREADS", str(threads or os.cpu_count() or 1))
        self.log = tempfile.NamedTemporaryFile(prefix="cellwak-julia-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([exe, "--startup-file=no", "--history-file=no", str(kernels_script()), "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1, env=env)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._expect("cellwak-kernels ready", startup_timeout)

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _expect(self, prefix: str, timeout: float) -> None:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise JuliaKernelError(f"Julia did not answer within {timeout:.0f} s",
                                       "raise the timeout of JuliaKernels or use smaller inputs") from None
            if line is None:
                raise JuliaKernelError(f"Julia stopped: {self._log_tail()}", f"check that julia runs; {INSTALL_HINT}")
            if line.startswith(prefix):
                return

    def _log_tail(self) -> str:
        try:
            return last_line(Path(self.log.name).read_text(errors="replace")) or f"exit status {self.proc.poll()}"
        except OSError:
            return f"exit status {self.proc.poll()}"

    def run(self, folder: Path, timeout: float) -> None:
        if self.proc.poll() is not None:
            raise JuliaKernelError(f"Julia stopped: {self._log_tail()}", f"check that julia runs; {INSTALL_HINT}")
        try:
            self.proc.stdin.write(f"{folder}\n")
            self.proc.stdin.flush()
        except OSError:
            raise JuliaKernelError(f"Julia stopped: {self._log_tail()}", f"check that julia runs; {INSTALL_HINT}") from None
        self._expect(f"cellwak-kernels done {folder}", timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class _JuliaCallRunner:
    _module = None

    def __init__(self):
        if _JuliaCallRunner._module is None:
            from juliacall import Main as jl  # only after juliacall_usable() said it starts

            if not jl.seval("isdefined(Main, :CellWAK)"):
                jl.include(str(kernels_script().parent.parent / "src" / "CellWAK.jl"))
            _JuliaCallRunner._module = jl.CellWAK

    def run(self, folder: Path, timeout: float) -> None:
        _JuliaCallRunner._module.run_request(str(folder))

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------


class JuliaKernels:
    """cellwak's Julia kernels on numpy / scipy.sparse data.

    ``mode``: ``"auto"`` (juliacall when it starts Julia >= 1.10, otherwise a julia executable),
    ``"juliacall"`` or ``"subprocess"``; the default comes from ``CELLWAK_JULIA_MODE``. Data are
    rows-are-cells here (X: cells × features); cell indices and labels are 0-based. Use as a
    context manager, or call :meth:`close`, to stop the Julia child process.
    """

    def __init__(self, mode: str | None = None, executable: str | None = None, threads: int | None = None,
                 timeout: float = 3600, startup_timeout: float = 300):
        mode = mode or os.environ.get(ENV_MODE, "auto")
        if mode not in ("auto", "juliacall", "subprocess"):
            raise JuliaKernelError(f"unknown Julia mode {mode!r}", "use auto, juliacall or subprocess")
        self.timeout = timeout
        self.last_seconds: dict[str, float] = {}
        self.last_iterations: list[int] = []
        self._version: str | None = None
        self._runner = None
        self._threads = threads
        self._startup_timeout = startup_timeout
        self.executable = executable or julia_executable()
        if mode == "juliacall" or (mode == "auto" and juliacall_usable()):
            if not juliacall_usable():
                raise JuliaUnavailableError("juliacall cannot start Julia >= 1.10 here",
                                            f"use mode='subprocess' with a julia executable: {INSTALL_HINT}")
            self.mode = "juliacall"
        else:
            if self.executable is None or not Path(self.executable).is_file():
                env = os.environ.get(ENV_JULIA)
                raise JuliaUnavailableError(f"{ENV_JULIA}={env} is not a file" if env else
                                            "no Julia is available for cellwak's Julia kernels", INSTALL_HINT)
            self.mode = "subprocess"
        kernels_script()

    # -- plumbing ---------------------------------------------------------------------------

    def start(self) -> "JuliaKernels":
        """Start Julia now (a ``--serve`` child or juliacall): a Julia that does not run fails here."""
        if self._runner is None:
            self._runner = (_JuliaCallRunner() if self.mode == "juliacall"
                            else _ServeProcess(self.executable, self._threads, self._startup_timeout))
            if self.mode == "subprocess":
                weakref.finalize(self, self._runner.close)
        return self

    def _run(self, build) -> dict:
        self.start()
        with tempfile.TemporaryDirectory(prefix="cellwak-jl-") as tmp:
            req = _Request(Path(tmp))
            build(req)
            req.write()
            self._runner.run(Path(tmp), self.timeout)
            out = _read_response(Path(tmp))
        self.last_seconds = {k[:-len(".seconds")]: v for k, v in out.items() if k.endswith(".seconds")}
        return out

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- kernels ----------------------------------------------------------------------------

    def knn_exact(self, X, k: int, blocksize: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact Euclidean kNN of the rows of X (self excluded): (indices (n, k) 0-based, distances (n, k))."""
        X = _data_matrix(X)
        out = self._run(lambda r: r.op("nn", "knn_exact", X=r.array(X), k=int(k), blocksize=blocksize))
        return out["nn.indices"], out["nn.distances"]

    def knn_graph(self, X, k: int, mode: str = "union"):
        """Binary kNN graph of the rows of X (scipy CSR): ``union``/``mutual`` symmetric, or ``directed``."""
        X = _data_matrix(X)
        return self._run(lambda r: r.op("g", "knn_graph", X=r.array(X), k=int(k), mode=mode))["g.G"]

    def wak(self, A, norm: str = "col"):
        """WAK of a non-negative square matrix: zero diagonal, columns (``col``) or rows (``row``) sum to 1."""
        return self._run(lambda r: r.op("w", "wak", A=r.sparse(A), norm=norm))["w.W"]

    def pwak(self, C, norm: str = "col") -> np.ndarray:
        """WAK of C Cᵀ for a soft partition C (cells × clusters); dense cells × cells."""
        C = _data_matrix(C)
        return self._run(lambda r: r.op("p", "pwak", C=r.array(C), norm=norm))["p.W"]

    def partition_matrix(self, labels):
        """Sparse P with P_ij = 1 iff labels[i] == labels[j]."""
        y = np.asarray(labels, dtype=np.int64).ravel()
        return self._run(lambda r: r.op("p", "partition_matrix", labels=r.array(y)))["p.P"]

    def noise2self_loss(self, X, A, norm: str = "col", apply_wak: bool = True) -> float:
        """Mean squared error between X (cells × features) and W X, with W = WAK(A) (or A itself)."""
        X = _data_matrix(X)
        out = self._run(lambda r: r.op("n2s", "noise2self", X=r.array(X), A=r.sparse(A), norm=norm, wak=apply_wak))
        return out["n2s.loss"]

    def modularity(self, A, labels, gamma: float = 1.0) -> float:
        """Newman modularity with resolution gamma of a partition of an undirected weighted graph."""
        y = np.asarray(labels, dtype=np.int64).ravel()
        return self._run(lambda r: r.op("q", "modularity", A=r.sparse(A), labels=r.array(y), gamma=float(gamma)))["q.modularity"]

    def pwak_apply(self, C, E, norm: str = "col") -> np.ndarray:
        """WAK(C Cᵀ) E (C cells × clusters, E cells × dims) without the cells × cells kernel."""
        C, E = _data_matrix(C), _data_matrix(E)
        return self._run(lambda r: r.op("pa", "pwak_apply", C=r.array(C), E=r.array(E), norm=norm))["pa.estimate"]

    def pwak_apply_many(self, pairs, norm: str = "col") -> list[np.ndarray]:
        """:meth:`pwak_apply` of several (C, E) pairs in one call (one Julia request)."""
        pairs = [(_data_matrix(C), _data_matrix(E)) for C, E in pairs]

        def build(r: _Request) -> None:
            for i, (C, E) in enumerate(pairs):
                r.op(f"pa{i}", "pwak_apply", C=r.array(C), E=r.array(E), norm=norm)

        out = self._run(build)
        return [out[f"pa{i}.estimate"] for i in range(len(pairs))]

    def leiden(self, A, gamma: float = 1.0, seed: int = 0, n_iterations: int = 2, beta: float = 0.01,
               tolerance: float = 1e-12, max_iterations: int = 20) -> np.ndarray:
        """Leiden communities (modularity, resolution gamma): 0-based labels, largest cluster first.
        ``n_iterations < 0``: iterate while an iteration gains more than ``tolerance`` x |Q| (a smaller
        gain is kept and ends the run, a loss is dropped), at most ``max_iterations`` iterations."""
        return self.leiden_sweep(A, [gamma], seed=seed, n_iterations=n_iterations, beta=beta, tolerance=tolerance,
                                 max_iterations=max_iterations)[0]

    def leiden_sweep(self, A, gammas, seed: int = 0, n_iterations: int = 2, beta: float = 0.01,
                     tolerance: float = 1e-12, max_iterations: int = 20) -> list[np.ndarray]:
        """Leiden at several resolutions in one Julia call (the graph is sent once)."""
        gammas = [float(g) for g in gammas]

        def build(r: _Request) -> None:
            ref = r.sparse(A)
            for i, g in enumerate(gammas):
                r.op(f"l{i}", "leiden", A=ref, gamma=g, seed=int(seed), n_iterations=int(n_iterations), beta=float(beta),
                     tolerance=float(tolerance), max_iterations=int(max_iterations))

        out = self._run(build)
        self.last_iterations = [int(out[f"l{i}.iterations"]) for i in range(len(gammas))]
        return [out[f"l{i}.labels"] for i in range(len(gammas))]

    def leiden_many(self, A, gammas, seeds, n_iterations: int = 2, beta: float = 0.01, tolerance: float = 1e-12,
                    max_iterations: int = 20) -> np.ndarray:
        """One Leiden run per (gammas[r], seeds[r]) on one graph, spread over Julia's threads (the
        graph is sent once): labels (runs, cells), each run as :meth:`leiden` would give it."""
        g = np.asarray(gammas, dtype=np.float64).ravel()
        s = np.asarray(seeds, dtype=np.int64).ravel()
        out = self._run(lambda r: r.op("lm", "leiden_many", A=r.sparse(A), gammas=r.array(g), seeds=r.array(s),
                                       n_iterations=int(n_iterations), beta=float(beta), tolerance=float(tolerance),
                                       max_iterations=int(max_iterations)))
        return out["lm.labels"]

    def dewak_losses(self, X, ks, *, norm: str = "col", embedding=None, d: int | None = None, k_max: int | None = None,
                     neighbours: tuple | None = None) -> dict:
        """DEWAK losses L(k) for each k of ``ks`` (ascending) on X (cells × features), with the kNN kernel
        of either the first ``d`` columns of ``embedding`` (searched at ``k_max``; the answer then holds
        ``indices`` (cells, k_max) 0-based and ``affinities``) or ``neighbours`` = (indices, affinities)
        searched before. Returns {"losses", "knn_seconds", ...}."""
        X = _data_matrix(X)
        k = np.asarray(ks, dtype=np.int64).ravel()

        def build(r: _Request) -> None:
            if neighbours is None:
                r.op("dw", "dewak_losses", X=r.array(X), ks=r.array(k), norm=norm, E=r.array(_data_matrix(embedding)),
                     d=int(d), k_max=int(k_max))
            else:
                idx, aff = neighbours
                r.op("dw", "dewak_losses", X=r.array(X), ks=r.array(k), norm=norm,
                     indices=r.array(np.asarray(idx, dtype=np.int64)), affinities=r.array(np.asarray(aff, dtype=np.float32)))

        out = self._run(build)
        return {key[len("dw."):]: v for key, v in out.items() if key.startswith("dw.")}

    def describe(self) -> dict:
        """What ran the kernels, for provenance: transport, Julia version, executable."""
        if self._version is None:
            if self.mode == "juliacall":
                self._version = juliacall_status().get("julia_version", "unknown")
            else:
                code, out, _ = run_quiet([self.executable, "--startup-file=no", "--version"], timeout=60)
                self._version = last_line(out) if code == 0 else "unknown"
        info = {"julia_transport": self.mode, "julia_version": self._version}
        if self.mode == "subprocess":
            info["julia_executable"] = self.executable
        return info


def _data_matrix(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise JuliaKernelError(f"expected a 2-D cells × features matrix, got shape {X.shape}")
    return np.ascontiguousarray(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)



_SHARED: JuliaKernels | None = None


def shared_kernels() -> JuliaKernels:
    """One JuliaKernels per process, so Julia starts and compiles once (closed at exit)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = JuliaKernels()
    return _SHARED


def require_julia(what: str) -> JuliaKernels:
    """The shared kernels with Julia started, or one :class:`JuliaUnavailableError` line saying that
    ``what`` needs Julia and how to get it (callers run this before any work)."""
    try:
        return shared_kernels().start()
    except (JuliaUnavailableError, JuliaKernelError) as exc:
        raise JuliaUnavailableError(f"{what} needs Julia: {exc.problem}", exc.fix or INSTALL_HINT) from None
