"""Typed settings of the workspace operations: one dataclass per operation, its defaults the
only place a default is written (the command line and the dashboard read them from here).

Each has ``check()``: the refusals that need no data (one line, exit status 2), run before
anything is read or written. Light on purpose (no NumPy): the command line imports it at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..choices import (COMPOSITIONS, DEVICES, DEWAK_NORMS, DEWAK_SCALINGS, DEWAK_SEARCHES, GAMMA_RULES, KERNEL_BACKENDS,
                       KNN_METHODS, LEIDEN_BACKENDS, OBJECTIVES, SWEEP_BACKENDS, WEIGHTS)
from ..errors import InputError

DEFAULT_DATASET = "blood"  # the built-in dataset commands use when none is named


def _one_of(flag: str, value, allowed) -> None:
    if value not in allowed:
        raise InputError(f"unknown {flag} {value!r}", f"choose one of {', '.join(map(str, allowed))}")


def _device(value: str) -> None:
    name = str(value).lower()
    if name not in DEVICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise InputError(f"unknown --device {value!r}", "choose auto, cpu, cuda or cuda:N")


def _scheduler_address(value) -> None:
    if value:
        from ..tl._distributed import resolve  # noqa: PLC0415

        resolve(value)


class _Config:
    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes):
        return replace(self, **changes)

    @classmethod
    def default(cls, name: str):
        """The default value of field ``name`` (for the faces' option declarations)."""
        for f in fields(cls):
            if f.name == name:
                return f.default
        raise KeyError(name)


@dataclass
class GraphConfig(_Config):
    """The kNN graph: representation, neighbours, edge weights (``cellwak.pp.neighbors``)."""

    k: int = 15
    rep: str | None = None          # obsm key, 'X' (scaled features), None: PCA of the scaled features
    n_pcs: int = 50                 # PCA components when rep is None
    knn: str = "auto"               # auto | exact | kdtree | ivf | nndescent | hnsw
    weights: str = "binary"
    seed: int = 0
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    features: list[str] | None = None  # only these columns of X (e.g. a cytometry panel's markers)

    def check(self) -> None:
        if isinstance(self.features, str):
            self.features = [f.strip() for f in self.features.split(",") if f.strip()]
        if self.k < 1:
            raise InputError(f"--k must be at least 1, got {self.k}")
        if self.n_pcs < 1:
            raise InputError(f"--n-pcs must be at least 1, got {self.n_pcs}")
        _one_of("--knn", self.knn, KNN_METHODS)
        _one_of("--weights", self.weights, WEIGHTS)
        _device(self.device)


@dataclass
class ClusterConfig(GraphConfig):
    """``cellwak cluster``: Leiden at one resolution, or ``gamma='auto'``."""

    gamma: float | str = 1.0
    objective: str = "modularity"
    backend: str = "igraph"
    n_iterations: int | None = None  # None: while modularity still gains (-1), at one gamma and in 'auto' alike
    subsamples: int = 5              # 'auto': 80% subsamples per resolution (ARI and clusterwise Jaccard; adaptive re-measuring is off)
    jobs: int | None = None          # 'auto': parallel Leiden processes (None: all cores, at most 8)
    auto_gammas: str = "0.05:3:30"   # 'auto': the resolutions swept: the same grid as `sweep` (tl._resolution.GRID)
    scheduler: str | None = None     # a Dask scheduler: kNN query shards, 'auto''s Leiden runs (None: $CELLWAK_DASK_SCHEDULER or here)

    def check(self) -> None:
        super().check()
        _scheduler_address(self.scheduler)
        from ..tl._leiden import check_leiden  # noqa: PLC0415 (NumPy: only when checking)

        _one_of("--objective", str(self.objective).lower(), OBJECTIVES)
        _one_of("--backend", self.backend, LEIDEN_BACKENDS)
        check_leiden(self.gamma, objective=self.objective, backend=self.backend, n_iterations=self.n_iterations,
                     subsamples=self.subsamples)
        if self.jobs is not None and self.jobs < 1:
            raise InputError(f"--jobs must be at least 1, got {self.jobs}")


@dataclass
class SweepConfig(GraphConfig):
    """``cellwak sweep``: Leiden over many resolutions with label-free evidence, and a choice."""

    gammas: str = "0.05:3:30"        # the same grid as `cluster --gamma auto` (tl._resolution.GRID)
    seeds: int = 1
    subsamples: int = 5
    n_iterations: int = -1           # while modularity still gains: the policy of `cluster` too
    rule: str = "auto"
    jobs: int | None = None
    criterion: object | None = None  # an api.interactions.SweepCriterion: external scores beside the evidence, never chooses
    scheduler: str | None = None     # a Dask scheduler: kNN query shards, the Leiden runs (None: $CELLWAK_DASK_SCHEDULER or here)
    backend: str = "igraph"          # the Leiden runs: igraph (processes, or the scheduler) or julia (CellWAK.jl, one process)

    def check(self) -> None:
        super().check()
        _scheduler_address(self.scheduler)
        from ..tl.sweep import check_sweep, parse_gammas  # noqa: PLC0415

        _one_of("--backend", self.backend, SWEEP_BACKENDS)
        _one_of("--rule", self.rule, GAMMA_RULES)
        check_sweep(parse_gammas(self.gammas), seeds=self.seeds, subsamples=self.subsamples, rule=self.rule,
                    n_iterations=self.n_iterations)
        if self.jobs is not None and self.jobs < 1:
            raise InputError(f"--jobs must be at least 1, got {self.jobs}")
        if self.criterion is not None:
            self.criterion.check()


@dataclass
class DewakConfig(_Config):
    """``cellwak dewak``: choose PCs d and neighbours k by the noise2self loss."""

    d_max: int | None = None
    k_max: int = 100
    search: str = "auto"
    norm: str = "col"
    scaling: str = "sample"
    rep: str | None = None
    seed: int = 0
    scheduler: str | None = None     # a Dask scheduler for the (d, k) evaluations (None: $CELLWAK_DASK_SCHEDULER or here)
    backend: str = "python"          # python (torch) or julia (CellWAK.jl: the kNN, WAK and loss of every (d, k))

    def check(self) -> None:
        _scheduler_address(self.scheduler)
        _one_of("--backend", self.backend, KERNEL_BACKENDS)
        if self.backend == "julia" and self.scheduler:
            raise InputError("--backend julia evaluates DEWAK in one Julia process, not on a Dask scheduler",
                             "drop --scheduler, or use --backend python")
        _one_of("--search", self.search, DEWAK_SEARCHES)
        _one_of("--norm", self.norm, DEWAK_NORMS)
        _one_of("--scaling", self.scaling, DEWAK_SCALINGS)
        from ..tl.dewak import check_options  # noqa: PLC0415

        check_options(d_max=self.d_max, k_max=self.k_max, search=self.search, norm=self.norm, scaling=self.scaling)


@dataclass
class ScoreConfig(_Config):
    """``cellwak score``: a recorded clustering (or KMeans) against reference labels."""

    clustering: int | None = None     # default: the dataset's latest clustering
    kmeans: int | None = None         # score KMeans(N) instead (the IAWG hackathon score)
    labels: str | None = None         # a label file instead of the dataset's label column
    labels_column: str | None = None
    id_column: str | None = None
    rep: str | None = None            # with kmeans: the representation

    def check(self) -> None:
        if self.clustering is not None and self.kmeans is not None:
            raise InputError("give either --clustering or --kmeans, not both")
        if self.kmeans is not None and self.kmeans < 2:
            raise InputError(f"--kmeans needs at least 2 clusters, got {self.kmeans}")
        if self.labels is None and (self.labels_column or self.id_column):
            raise InputError("--labels-column and --id-column describe a --labels file", "give --labels FILE too")


@dataclass
class ClassifyConfig(_Config):
    """``cellwak classify``: one balanced classifier per label of an obs column."""

    label: str = ""
    rep: str | None = None
    sep: str = ";"
    threshold: float = 0.5
    test_fraction: float = 0.25
    trees: int = 100
    seed: int = 0

    def check(self) -> None:
        if not self.label:
            raise InputError("no label column given", "name the obs column holding each cell's labels with --label")
        from ..tl.classify import check_classify  # noqa: PLC0415

        check_classify(threshold=self.threshold, test_fraction=self.test_fraction, n_estimators=self.trees, sep=self.sep)


@dataclass
class SimulateConfig(_Config):
    """``cellwak data simulate-batches``: an image dataset split into batches with known shifts."""

    batches: int = 4
    seed: int = 0
    strength: float = 1.0
    composition: str = "dirichlet"
    force: bool = False

    def check(self) -> None:
        _one_of("--composition", self.composition, COMPOSITIONS)
        if self.batches < 2:
            raise InputError(f"--batches must be at least 2, got {self.batches}", "pass --batches 2 or more")
        if not self.strength >= 0:
            raise InputError(f"--strength must be 0 or more, got {self.strength}")


@dataclass
class TrainSettings(_Config):
    """What a user sets for any training run (None: the model's or the loop's default; see
    :class:`cellwak.train.TrainConfig` for the meaning of each)."""

    epochs: str | int | dict | None = None   # N, or per stage 'name=N,name=N'
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    optimizer: str | None = None
    test_size: float | None = None
    patience: int | None = None
    checkpoint_every: int | None = None
    device: str = "auto"
    seed: int = 0
    threads: int | None = None
    test_every_step: bool | None = None
    nproc: int = 1

    def check(self) -> None:
        _device(self.device)
        if self.nproc < 1:
            raise InputError(f"--nproc must be at least 1, got {self.nproc}")

    def train_dict(self) -> dict:
        """The values for :func:`cellwak.train.make_config` (epochs parsed)."""
        from ..train.config import parse_epochs  # noqa: PLC0415

        values = self.to_dict()
        values["epochs"] = parse_epochs(self.epochs) if isinstance(self.epochs, str) else self.epochs
        values["test_every_step"] = self.test_every_step or None
        return values


__all__ = ["DEFAULT_DATASET", "ClassifyConfig", "ClusterConfig", "DewakConfig", "GraphConfig", "ScoreConfig", "SimulateConfig",
           "SweepConfig", "TrainSettings"]
