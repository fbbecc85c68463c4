import random

import mxnet as mx
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)
