"""The dashboard's child-process runner: the same API function, its answer, its refusal, its
progress, and a cancelled child stopped."""

from __future__ import annotations

import time

import pytest

from cellwak import api
from cellwak_tui.process import ChildFailed, run_in_child

pytestmark = pytest.mark.slow  # each test starts a Python process that imports cellwak


def test_a_child_returns_the_result_and_progress_and_refuses_with_the_api_line(table_csv, tmp_path):
    home = tmp_path / "home"
    api.add_dataset(home, table_csv, name="cells", options=api.ReadOptions(label="type", id="cell"))
    with pytest.raises(ChildFailed, match="--gamma must be > 0") as info:
        run_in_child(api.cluster, (str(home), "cells", api.ClusterConfig(gamma=-1.0)), {})
    assert info.value.refused and api.list_clusterings(home).clusterings == []
    seen = []
    out = run_in_child(api.cluster, (str(home), "cells", api.ClusterConfig(gamma=0.5)), {},
                       on_progress=lambda *p: seen.append(p))
    assert out.n_clusters >= 1 and out.gamma == 0.5
    assert [c["id"] for c in api.list_clusterings(home).clusterings] == [out.clustering_id]  # recorded
    assert any(p[0].startswith("Leiden") for p in seen) and all(len(p) == 4 for p in seen)


def test_a_cancelled_child_is_stopped():
    start = time.monotonic()
    with pytest.raises(ChildFailed, match="cancelled") as info:
        run_in_child(time.sleep, (60,), {}, cancelled=lambda: time.monotonic() - start > 1.0)
    assert not info.value.refused and time.monotonic() - start < 20
