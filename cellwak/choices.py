"""The allowed values of every enumerated setting, in one place.

The modules that implement a setting import its values from here, and the faces list them in
their help texts and refusals, so a value is never spelt twice. Plain tuples, no imports: the
command line reads this module at start-up.
"""

DEVICES = ("auto", "cpu", "cuda")                      # and cuda:N
KNN_METHODS = ("auto", "exact", "kdtree", "ivf", "nndescent", "hnsw")      # neighbour search
KNN_METRICS = ("euclidean", "cosine")
WEIGHTS = ("binary", "inverse", "umap", "gaussian", "jaccard")  # edge weights of the kNN graph
OBJECTIVES = ("modularity", "cpm", "rber", "significance", "surprise")  # Leiden quality functions
LEIDEN_BACKENDS = ("igraph", "leidenalg", "julia", "cugraph")  # cugraph: RAPIDS, on a GPU, when installed
SWEEP_BACKENDS = ("igraph", "julia", "cugraph")                 # the Leiden runs of sweep / --gamma auto
KERNEL_BACKENDS = ("python", "julia")                  # DEWAK's kNN + loss, DeePWAK's evaluation kernel
GAMMA_RULES = ("auto", "reproducible", "most-stable", "silhouette", "n2s", "plateau")  # label-free choice
DEWAK_SEARCHES = ("auto", "grid", "coordinate", "golden")
DEWAK_NORMS = ("col", "row")
DEWAK_SCALINGS = ("sample", "feature", "standard", "none")
COMPOSITIONS = ("dirichlet", "uniform")                # simulated batches: cell types per batch
OPTIMIZERS = ("adamw", "adam-reset")
AMP_MODES = ("auto", "bf16", "off")
MARKER_METHODS = ("wilcoxon", "t-test", "logreg")  # marker features per cluster
RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled")
EXPORT_SUFFIXES = (".h5ad", ".csv")
