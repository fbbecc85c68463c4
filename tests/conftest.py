import random

import mxnet as mx
import numpy as np
import pytest


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
