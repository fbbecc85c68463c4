import os
import random

# One compute thread in the test process and every script a test starts, before MXNet loads:
# tests compare runs across processes (a killed and resumed run, two workers against one), and
# oneDNN rounds differently with another thread count. An OMP_NUM_THREADS given to pytest wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same random state, and ends with MXNet's queue drained: an
    operator that failed asynchronously fails the test that ran it (at teardown), never a later
    one that happens to wait on the engine."""
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)
    yield
    mx.nd.waitall()


@pytest.fixture(scope="session")
def synth_work(tmp_path_factory):
    """A tiny prepared synthetic dataset with boxes and poses, shared by the training tests."""
    from helpers import make_synth_work
    return make_synth_work(str(tmp_path_factory.mktemp("synth_work")))
