"""What the sections of ``make bench`` (bench.py, bench_precision.py) share: the models the latency
rows time, the median time of a call, and the multiply-accumulates of a model or the detector."""
import statistics
import time

import mxnet as mx
import numpy as np

from symbols import get_model
from symbols.detector import rfcn
from symbols.summary import count_params, layer_macs, summarize

LATENCY_MODELS = ("i3d_resnet50", "action_machine_r18", "action_machine_r50")


def timed(fn, repeats):
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def model_macs(name):
    net = get_model(name)
    return sum(r[3] for r in summarize(net, (1, 3, 8, 224, 224))), count_params(net)


def detector_macs(x, im_info):
    """Multiply-accumulates of one detector forward pass (convolutions, deformable ones too)."""
    net = rfcn.DeformableRFCN(rfcn.DETECTORS["dcn_rfcn"])
    net.initialize(mx.init.Normal(0.01))
    total, handles = [0], []

    def conv(block, inputs, output):
        total[0] += layer_macs(block, inputs, output)

    def deformable(block, inputs, output):
        total[0] += output.size * int(np.prod(block.weight.shape[1:]))
    for block in _blocks(net):
        if isinstance(block, rfcn.DeformableConv3x3):
            handles.append(block.register_forward_hook(deformable))
        elif not block._children:
            handles.append(block.register_forward_hook(conv))
    net(mx.nd.array(x), mx.nd.array(im_info))
    mx.nd.waitall()
    for h in handles:
        h.detach()
    return total[0] // x.shape[0]


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)
