"""The request / response folders between Python and CellWAK.jl (format: julia/src/kernel_io.jl)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CellwakError

FORMAT_HEADER = "cellwak-kernels 1"
_DTYPES = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64}


class JuliaKernelError(CellwakError):
    """A Julia kernel rejected its input or failed."""


@dataclass
class _Request:
    dir: Path
    lines: list[str] = field(default_factory=lambda: [FORMAT_HEADER])
    count: int = 0

    def array(self, a: np.ndarray) -> str:
        a = np.asarray(a)
        kind = {np.dtype(v): k for k, v in _DTYPES.items()}.get(a.dtype)
        if kind is None:
            raise JuliaKernelError(f"cannot send an array of dtype {a.dtype} to Julia", "use float32, float64, int32 or int64")
        self.count += 1
        name = f"in{self.count}"
        np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tofile(self.dir / f"{name}.bin")
        self.lines.append(f"array {name} {kind} {','.join(map(str, a.shape)) or '1'} {name}.bin")
        return "@" + name

    def sparse(self, A) -> str:
        A = _as_csc(A)
        refs = [self.array(A.indptr.astype(np.int64)), self.array(A.indices.astype(np.int64)),
                self.array(A.data.astype(np.float64))]
        self.count += 1
        name = f"in{self.count}"
        self.lines.append(f"sparse {name} {A.shape[0]},{A.shape[1]} {' '.join(r[1:] for r in refs)}")
        return "@" + name

    def op(self, op_id: str, name: str, **params) -> None:
        text = " ".join(f"{k}={_param_text(v)}" for k, v in params.items() if v is not None)
        self.lines.append(f"op {op_id} {name} {text}".rstrip())

    def write(self) -> None:
        (self.dir / "request.txt").write_text("\n".join(self.lines) + "\n")


def _param_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    text = str(v)
    if not text or any(c.isspace() for c in text) or "=" in text:
        raise JuliaKernelError(f"bad parameter value {text!r} for a Julia kernel")
    return text


def _as_csc(A):
    import scipy.sparse as sp

    A = sp.csc_matrix(A, dtype=np.float64)
    if A.shape[0] != A.shape[1]:
        raise JuliaKernelError(f"the graph must be a square matrix, got shape {A.shape}")
    A.sum_duplicates()
    A.sort_indices()
    return A


def _read_response(folder: Path) -> dict:
    import scipy.sparse as sp

    path = folder / "response.txt"
    if not path.is_file():
        raise JuliaKernelError("Julia wrote no answer to the kernel request", "see the messages above or run `cellwak doctor`")
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != FORMAT_HEADER:
        raise JuliaKernelError("Julia's kernel answer is not in the expected format")
    out: dict = {}
    for line in lines[1:]:
        t = line.split()
        if not t:
            continue
        if t[0] == "error":
            raise JuliaKernelError("Julia kernel failed: " + line[len("error "):])
        if t[0] == "value":
            out[t[1]] = float(t[2])
        elif t[0] == "array":
            shape = tuple(int(s) for s in t[3].split(","))
            out[t[1]] = np.fromfile(folder / t[4], dtype=np.dtype(_DTYPES[t[2]]).newbyteorder("<")).reshape(shape)
        elif t[0] == "sparse":
            m, n = (int(s) for s in t[2].split(","))
            indptr, indices, data = (out.pop(s) for s in t[3:6])
            out[t[1]] = sp.csc_matrix((data, indices, indptr), shape=(m, n)).tocsr()
    return out
