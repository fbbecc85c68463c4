"""Inference precision and mixed-precision training, in one place.

Inference (eval.dtype, ``--dtype``): ``for_inference(net, dtype, ctx)`` turns a loaded Gluon
network into what runs:
- float32 on a CPU: the oneDNN-fused graph (``Fused``: ``optimize_for(backend='MKLDNN')`` on the
  first call fuses convolution + batch norm (+ addition) (+ ReLU) into ``_sg_mkldnn_conv``
  nodes; the outputs are the unfused graph's within float32 rounding, tested). MXNet 1.9.1
  spells the backend 'MKLDNN' (the name 'ONEDNN' is refused with a log line and leaves the graph
  unfused), so the fused nodes are counted and a graph without them is said in one log line.
  On a GPU, the network itself.
- int8 (CPU, oneDNN): ``engine/inference/int8.py``, with the thresholds calibrated on the run's training
  clips (``engine.systems.loaded_model`` makes or reads them; a script without the run's
  config refuses int8 with one line).
- bfloat16 (CPU) / float16 (GPU): a wrapper that converts the network on its first call (AMP
  needs the hybridized graph, which exists after one forward pass) with
  ``amp.convert_hybrid_block``. AMP's lists decide each operator's precision: for bfloat16 only
  Convolution and FullyConnected run in 16 bits, batch norm, pooling, ReLU, concat and
  additions run in whichever precision their input has, and every other operator
  (Deconvolution, softmax, argmax, pick, reshape, sum, sigmoid, the deformable operators ...)
  runs in float32 on a float32 copy of its input. So Action Machine's argmax keypoint decoder
  and the soft-argmax decoder see their heatmaps in float32 (their values carry the 8-bit
  mantissa of the convolution that made them) and decode in float32. The wrapper takes the
  same float32 inputs as the network (the graph casts them at its first 16-bit operator) and
  returns float32 arrays.

Training (train.amp): ``init_training(trainer, dtype, ctxs)`` once the trainer exists, before
the first forward pass (``amp.init`` rewrites the operators the graph is built from, for the
whole process); ``backward(losses, trainer)`` in place of ``autograd.backward``. float16 scales
the loss dynamically (AMP's LossScaler: 2**16, halved on an overflow, whose step is skipped;
Trainer.step divides the scale out before clipping). bfloat16 has float32's exponent range and
needs no scaling. The parameters stay float32 (AMP casts them inside the graph), so checkpoints
are float32 files.
"""
import json
import logging

import mxnet as mx
import numpy as np
from mxnet import autograd

from engine.inference import hardware

DTYPES = ("float32", "int8", "bfloat16", "float16")  # common.cli.DTYPES
BFLOAT16 = np.dtype([("bfloat16", np.uint16)])  # MXNet's name for bfloat16 arrays
# bfloat16 keeps 8 bits of mantissa (7 stored): one rounding changes a value by up to 2**-8
# relative, 2**-9 on average.
BF16_EPS = 2.0 ** -8
_TRAINING_AMP = []  # the train.amp dtype amp.init set in this process (it cannot be undone)


def check_dtype(dtype, ctx, key="eval.dtype", calibrates=False):
    """The dtype must be one MXNet runs on ``ctx``: float16 AMP is CUDA's, bfloat16 oneDNN's.
    int8 also needs thresholds calibrated on a run's training clips: ``calibrates`` says the
    caller makes them (eval_action.py does, through engine/inference/dtype.py); other scripts refuse
    int8 here, before they build anything."""
    if dtype not in DTYPES:
        raise ValueError(f"{key} is {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype == "int8" and not calibrates:
        raise ValueError(f"{key}=int8 is calibrated on the run's training clips, which this "
                         f"script does not read; use float32 here (eval_action.py runs int8)")
    on_gpu = ctx.device_type == "gpu"
    if dtype == "int8" and (on_gpu or not hardware.onednn_enabled()):
        raise ValueError(f"{key}=int8 runs on CPUs through oneDNN in MXNet 1.9.1"
                         + (f", not on {ctx}; on a GPU use float16" if on_gpu else
                            ", which this MXNet has off (a build without it, or "
                            "MXNET_MKLDNN_ENABLED=0)"))
    if dtype == "float16" and not on_gpu:
        raise ValueError(f"{key}=float16 needs a GPU: MXNet 1.9.1 runs float16 through CUDA "
                         f"(its CPU float16 kernels are slower than float32); on a CPU use "
                         f"bfloat16")
    if dtype == "bfloat16" and on_gpu:
        raise ValueError(f"{key}=bfloat16 runs on CPUs (oneDNN) in MXNet 1.9.1, not on "
                         f"{ctx}; on a GPU use float16")
    if dtype == "bfloat16":
        missing = hardware.bfloat16_missing()
        if missing:
            raise ValueError(f"{key}=bfloat16 cannot run on this CPU ({hardware.cpu_model()}): "
                             f"{missing}; use float32 here, or a GPU with float16")


def to_float32(outputs):
    """NDArray or a tuple of them, any dtype -> a tuple of float32 NDArrays."""
    if isinstance(outputs, mx.nd.NDArray):
        outputs = (outputs,)
    return tuple(o if np.dtype(o.dtype) == np.float32 else mx.nd.amp_cast(o, dtype="float32")
                 for o in outputs)


def to_numpy(outputs):
    """-> float32 NumPy arrays, whatever precision the network computed in."""
    return [o.asnumpy() for o in to_float32(outputs)]


def concat_nodes(net):
    """Names of the Concat nodes of ``net``'s cached graph. AMP's bfloat16 lists let Concat run
    in either precision, but its type check then refuses a bfloat16 input beside a float32 one
    (the soft-argmax stem concatenates a convolution's output with a pooling of a float32
    branch); kept float32, their inputs are cast up instead."""
    graph = json.loads(net._cached_graph[1].tojson())
    return [n["name"] for n in graph["nodes"] if n["op"] in ("Concat", "concat")]


def convert(net, dtype, ctx, inputs):
    """The hybridized ``net`` (run once on ``inputs``) converted by AMP to ``dtype``, and whether
    ``net`` returns a sequence (the converted block returns a bare array for one output, where
    a network of one head returns a list of one)."""
    from mxnet.contrib import amp
    if not net._active:
        net.hybridize(static_alloc=True)
    native = net(*inputs)  # builds the cached graph AMP reads
    try:
        converted = amp.convert_hybrid_block(net, target_dtype=dtype, ctx=ctx,
                                             excluded_sym_names=concat_nodes(net),
                                             cast_optional_params=True)
    except Exception as err:  # MXNet raises its own error types; say which network and dtype
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(f"AMP could not convert {type(net).__name__} to {dtype}: "
                           f"{first}") from err
    converted.hybridize(static_alloc=True)
    return converted, isinstance(native, (tuple, list))


class LowPrecision:
    """``net`` run in ``dtype``: called as the network (float32 inputs), returns float32
    outputs; its other attributes (output_names, stride, cfg ...) are the network's."""

    def __init__(self, net, dtype, ctx):
        self.net, self.dtype, self.ctx, self.converted = net, dtype, ctx, None
        self.sequence = None

    def __call__(self, *inputs):
        inputs = [x.astype("float32", copy=False).as_in_context(self.ctx) for x in inputs]
        if self.converted is None:
            self.converted, self.sequence = convert(self.net, self.dtype, self.ctx, inputs)
        out = to_float32(self.converted(*inputs))
        return out if self.sequence else out[0]  # the structure the network itself returns

    def __getattr__(self, name):
        return getattr(self.__dict__["net"], name)


def node_precisions(low):
    """{operator node: (op, 'bfloat16' | 'float16' | 'float32')} of a LowPrecision network's
    converted graph (after its first call): what AMP chose for each operator's output."""
    inputs, sym = low.converted._cached_graph
    internals = sym.get_internals()
    _, types, _ = internals.infer_type_partial(**{i.name: np.float32 for i in inputs})
    ops = {n["name"]: n["op"] for n in json.loads(sym.tojson())["nodes"] if n["op"] != "null"}
    found = {}
    for name, t in zip(internals.list_outputs(), types):
        node = name.rsplit("_output", 1)[0]
        if node in ops:
            found[node] = (ops[node], "float32" if np.dtype(t) == np.float32 else low.dtype)
    return found


FUSED_OPS = ("_sg_mkldnn_conv", "_sg_mkldnn_fully_connected")


def graph_ops(block):
    """{node name: operator} of a hybridized block's cached graph (after its first call)."""
    graph = json.loads(block._cached_graph[1].tojson())
    return {n["name"]: n["op"] for n in graph["nodes"] if n["op"] != "null"}


def fused_nodes(block):
    """Names of the oneDNN-fused convolution / inner-product nodes in ``block``'s graph."""
    return [name for name, op in graph_ops(block).items() if op in FUSED_OPS]


class Fused:
    """``net`` with its graph fused by oneDNN's subgraph pass, built on the first call (the
    pass needs an input); called and read as the network itself. If the pass fails or fuses
    nothing, one log line says so and the unfused graph runs (the same numbers, slower)."""

    def __init__(self, net, log=None):
        self.net, self.log, self.fused = net, log or logging.getLogger(__name__), None

    def __call__(self, *inputs):
        if self.fused is None:
            self.fused = self._fuse(inputs)
            try:
                return self.net(*inputs)
            except Exception as err:  # a graph the pass broke: the plain one is still right
                self._unfused(err)
        return self.net(*inputs)

    def _unfused(self, err):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        self.log.warning("oneDNN could not fuse %s (%s): it runs unfused",
                         type(self.net).__name__, first)
        self.net.hybridize(static_alloc=True, static_shape=True)
        self.fused = []

    def _fuse(self, inputs):
        try:
            self.net.optimize_for(*inputs, backend="MKLDNN", static_alloc=True,
                                  static_shape=True)
            found = fused_nodes(self.net)
        except Exception as err:  # MXNet raises its own error types; run the plain graph
            self._unfused(err)
            return self.fused
        if not found:
            self.log.warning("oneDNN fused no convolution of %s: it runs unfused",
                             type(self.net).__name__)
        return found

    def __getattr__(self, name):
        return getattr(self.__dict__["net"], name)


def for_inference(net, dtype, ctx, key="eval.dtype", log=None, thresholds=None,
                  float32_parts=(), values=None):
    """``net`` (weights loaded) to run in ``dtype`` on ``ctx``: float32 the oneDNN-fused graph
    on a CPU (the network itself on a GPU or without oneDNN), int8 quantized with calibrated
    ``thresholds`` (engine/inference/int8.py; ``engine.systems.loaded_model`` makes them from the
    run's training clips; ``values``: the weights read before the network ran), bfloat16 /
    float16 through AMP."""
    check_dtype(dtype, ctx, key, calibrates=thresholds is not None)
    if _TRAINING_AMP and _TRAINING_AMP[0] != dtype:
        raise ValueError(f"this process ran AMP training (train.amp={_TRAINING_AMP[0]}), which "
                         f"turns every later graph to {_TRAINING_AMP[0]} too: {key}={dtype} "
                         f"would not be what runs; evaluate in a new process")
    if dtype == "float32":
        fusable = ctx.device_type == "cpu" and hardware.onednn_enabled()
        return Fused(net, log) if fusable else net
    if dtype == "int8":
        from engine.inference import int8
        return int8.quantized(net, thresholds, float32_parts, ctx, values)
    return LowPrecision(net, dtype, ctx)


# --- training ---------------------------------------------------------------------------------

def check_training_dtype(dtype, ctxs):
    """train.amp: float32 (off), float16 on GPUs, bfloat16 on CPUs (measured to work in MXNet
    1.9.1's oneDNN, README 'Mixed precision')."""
    if dtype == "float32":
        return
    for ctx in ctxs:
        check_dtype(dtype, ctx, key="train.amp")


def init_training(trainer, dtype, ctxs):
    """AMP for a run whose graph is not built yet: the operators cast to ``dtype`` from now on,
    in this whole process; float16 also gets dynamic loss scaling on ``trainer``."""
    check_training_dtype(dtype, ctxs)
    if dtype == "float32":
        return
    if _TRAINING_AMP and _TRAINING_AMP[0] != dtype:
        raise ValueError(f"this process already ran AMP training in {_TRAINING_AMP[0]}; "
                         f"train.amp={dtype} needs a new process")
    from mxnet.contrib import amp
    if not _TRAINING_AMP:
        amp.init(target_dtype=dtype)
        _TRAINING_AMP.append(dtype)
    if dtype == "float16":
        amp.init_trainer(trainer)


def backward(losses, trainer):
    """``autograd.backward(losses)``, with the losses scaled when ``trainer`` scales them
    (float16); Trainer.step divides the scale out and skips a step whose gradients overflow."""
    if getattr(trainer, "_amp_loss_scaler", None) is None:
        autograd.backward(losses)
        return
    from mxnet.contrib import amp
    with autograd.record():  # the product must be on the tape
        with amp.scale_loss(list(losses), trainer) as scaled:
            pass
    autograd.backward(scaled)
