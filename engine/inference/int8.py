"""int8 inference (eval.dtype=int8) through oneDNN, with MXNet 1.9.1's quantization
(``mx.contrib.quantization``), calibrated on the run's own training clips.

    thresholds = calibrate(net, clips, mode, float32_parts)   # {layer output: (min, max)}
    run = quantized(net, thresholds, float32_parts)           # called as the network

Calibration (eval.int8_calibration): ``naive`` takes each quantized layer's output range over
the clips as its int8 range; ``entropy`` picks the range that keeps the KL divergence between
the float32 and int8 histograms smallest. The network's graph goes through oneDNN's
quantization pass (``MKLDNN_QUANTIZE``: convolution + batch norm + ReLU (+ addition) fused, then
quantized: the weights per output channel, the activations per tensor, uint8 after a ReLU), and
the outputs come back float32.

What stays float32: the keypoint decoders always (``ALWAYS_FLOAT32``: arg-max and offsets, or
soft-argmax, decode the heatmaps in float32), the parts eval.int8_float32 names (children of
the network, ``rgb_head``, ``pose_head``, ``pose_cnn``, ``backbone``, or a backbone stage,
``backbone.conv1`` ... ``backbone.layer4``; a part the network does not have is skipped), and,
with eval.int8_auto, the parts ``int8_check.choose_float32`` picks. Deconvolution has no int8
kernel in this MXNet, so the pose head's upsampling runs float32 whatever the setting.

The automatic choice of further float32 parts (eval.int8_auto) is ``int8_check.py``.

The cache (``cache_path``): the thresholds and the float32 parts they run with are written
beside the checkpoint, with the settings that made them (``settings``) and the checkpoint's
SHA-256, and read back when the settings match: a second evaluation calibrates nothing.
Settings that differ are refused with one line (the file is the record of how the int8 numbers
were made); a changed checkpoint (a retrained run) is recalibrated.
"""
import json
import logging
import os
import tempfile
import warnings

import mxnet as mx
import numpy as np

from common.errors import one_line

ALWAYS_FLOAT32 = ("decoder",)
# backbone.conv1 is the stem's convolution (with its batch norm and ReLU); the stem's max pooling
# runs in whichever precision its input has
STAGES = tuple(f"backbone.{s}" for s in ("conv1", "layer1", "layer2", "layer3", "layer4"))
PARTS = ("backbone", "rgb_head", "pose_head", "pose_cnn") + STAGES  # eval.int8_float32's choices
# the automatic choice's candidates, in the order that breaks a tie: the small parts first. Not
# the pose CNN: kept float32 inside the paper-size Action Machine's int8 graph, that graph fails
# in MXNet 1.9.1's oneDNN at its first call, and after one failed graph the next one built in
# the process crashes it; eval.int8_float32 keeps it float32 where that runs (the demo's).
CANDIDATES = ("pose_head", "rgb_head") + STAGES[::-1]
QUANTIZED_DTYPE = "auto"  # int8, or uint8 where the input is non-negative (after a ReLU)
GRANULARITY = "channel-wise"
LOG = logging.getLogger(__name__)


# Networks whose int8 graph MXNet 1.9.1's oneDNN cannot run, refused before any calibration.
REFUSED = {
    "softargmax_multitask": (
        "MXNet 1.9.1's oneDNN cannot run this network's int8 graph: its first call fails with "
        "'The size of NDArray doesn't match the requested MKLDNN memory desc' after the last "
        "action block's convolution, also with both action streams and the aggregation kept "
        "float32 (docs/performance.md); set eval.dtype=float32"),
}


def check_model(name, key="eval.dtype"):
    """One-line ValueError for a model named in ``REFUSED``."""
    if name in REFUSED:
        raise ValueError(f"{key}=int8 with model {name}: {REFUSED[name]}")


def check_parts(parts, key="eval.int8_float32"):
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"{key}: unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    return sorted(set(parts))


def weights(net):
    """The network's parameters as NumPy. Read before the network runs at a second input shape:
    after that MXNet 1.9.1's oneDNN may hold a weight in a layout its readers refuse ('The size
    of NDArray doesn't match the requested MKLDNN memory desc')."""
    return {name: p.data().asnumpy() for name, p in net.collect_params().items()}


def _exported(net, shape, values=None):
    """(symbol, arg params, aux params) of the hybridized ``net`` (run on zeros of ``shape`` if
    it has not run), the parameters from ``values`` (``weights``) or read now."""
    values = weights(net) if values is None else values
    if not net._active:
        net.hybridize(static_alloc=True, static_shape=True)
    if not net._cached_graph:
        net(mx.nd.zeros(shape))
    sym = net._cached_graph[1]
    names = (set(sym.list_arguments()), set(sym.list_auxiliary_states()))
    args, auxs = {}, {}
    for name, value in values.items():
        for known, found in zip(names, (args, auxs)):
            if name in known:
                found[name] = mx.nd.array(value, dtype=value.dtype)
    return sym, args, auxs


def part(net, path):
    """The block at ``path`` (``pose_cnn``, ``backbone.layer4``) of ``net``, or None."""
    block = net
    for name in path.split("."):
        block = getattr(block, name, None)
        if block is None:
            return None
    return block


def excluded_layers(net, sym, parts):
    """The graph nodes of the network's parts named in ``parts`` and of its decoders."""
    prefixes = [part(net, p).prefix for p in tuple(parts) + ALWAYS_FLOAT32
                if part(net, p) is not None]
    names = {node.name for node in sym.get_internals()}  # node names, as the pass sees them
    return sorted(n for n in names if any(n.startswith(p) for p in prefixes))


def _graph(net, shape, parts, calib_mode, values=None):
    """oneDNN's quantization pass over ``net``: (quantized symbol, args, auxs, collector)."""
    from mxnet.contrib import quantization as q
    sym, args, auxs = _exported(net, shape, values)
    excluded = excluded_layers(net, sym, parts)
    fused = sym.get_backend_symbol("MKLDNN_QUANTIZE")
    qsym, _, _, collector = q.quantize_graph(
        sym=fused, arg_params=args, aux_params=auxs, ctx=mx.cpu(), excluded_sym_names=excluded,
        calib_mode=calib_mode, quantized_dtype=QUANTIZED_DTYPE, quantize_mode="full",
        quantize_granularity=GRANULARITY)
    return fused, qsym, args, auxs, collector


def calibrate(net, clips, mode, parts=(), batch_size=4, values=None):
    """{layer output: (min, max)} of the layers int8 runs, from ``clips`` (N, C, ...) float32
    NumPy, by ``mode`` (naive | entropy). Through ``mx.io.NDArrayIter`` (a Gluon DataLoader of
    5D clips is refused by MXNet's calibration: 'Input data should be 5D (4 vs. 5)')."""
    from mxnet.contrib import quantization as q
    if mode not in ("naive", "entropy"):
        raise ValueError(f"eval.int8_calibration is naive or entropy, got {mode!r}")
    clips = np.asarray(clips, np.float32)
    batch_size = min(batch_size, len(clips))
    fused, _, args, auxs, collector = _graph(net, (batch_size,) + clips.shape[1:], parts, mode,
                                             values)
    data = mx.io.NDArrayIter(clips, batch_size=batch_size, last_batch_handle="discard")
    mod = mx.mod.Module(symbol=fused, context=mx.cpu(), data_names=["data"], label_names=None)
    mod.bind(for_training=False, data_shapes=data.provide_data)
    mod.set_params(args, auxs, allow_missing=False, force_init=True)
    unread = _guard(collector)
    q._collect_layer_statistics(mod, data, collector)  # MXNet's own calibration loop
    for name in sorted(unread):
        LOG.info("int8: %s could not be read during calibration (MXNet 1.9.1's oneDNN layout); "
                 "its range is measured at run time", relative(net, name))
    if mode == "naive":
        found = collector.min_max_dict
    else:
        found = q._get_optimal_thresholds(collector.hist_dict, QUANTIZED_DTYPE)
    return {relative(net, k): (float(lo), float(hi)) for k, (lo, hi) in sorted(found.items())}


def _guard(collector):
    """MXNet's calibration reads each layer output in a callback; an output in a oneDNN layout
    its reader refuses (the transpose before the pose CNN, in MXNet 1.9.1) would print a
    traceback there and leave no range. The guarded callback records the name instead (the
    quantization pass then measures that range at run time) -> the set of such names."""
    unread, collect = set(), collector.collect

    def guarded(name, arr):
        try:
            collect(name, arr)
        except mx.base.MXNetError:
            unread.add(mx.base.py_str(name))
    collector.collect = guarded
    return unread


NET = "<net>"  # the network's own name prefix in a cached layer name


def relative(net, name):
    """A layer's name without the network's instance prefix (``actionmachine0_``, which counts
    the networks built in a process), so a cache fits the same network built anywhere."""
    return NET + name[len(net.prefix):] if name.startswith(net.prefix) else name


def absolute(net, name):
    return net.prefix + name[len(NET):] if name.startswith(NET) else name


class _Thresholds:
    """What ``calib_graph`` reads from a collector (its 'customize' mode)."""

    def __init__(self, net, thresholds):
        self.min_max_dict = {absolute(net, k): tuple(v) for k, v in thresholds.items()}


class Quantized:
    """The int8 network: called as the float32 one (float32 inputs, the same output structure,
    float32 outputs); its other attributes (output_names, stride, config ...) are the
    network's. Built on the first call (the graph needs an input's shape)."""

    def __init__(self, net, thresholds, parts=(), ctx=mx.cpu(), values=None):
        self.net, self.thresholds, self.parts, self.ctx = net, thresholds, parts, ctx
        self.block = self.sequence = None
        self.weights = weights(net) if values is None else values

    def _build(self, x):
        from mxnet.contrib import quantization as q
        # the float32 graph runs at most once, at one shape: run again at another, MXNet 1.9.1's
        # oneDNN may fail on weights it reordered in place
        _, qsym, args, auxs, _ = _graph(self.net, x.shape, self.parts, "none", self.weights)
        self.sequence = isinstance(self.net._out_format, list)  # a tuple / list, or one array
        qsym, qargs, auxs = q.calib_graph(qsym, args, auxs,
                                          _Thresholds(self.net, self.thresholds),
                                          calib_mode="customize", quantized_dtype=QUANTIZED_DTYPE)
        qsym = qsym.get_backend_symbol("MKLDNN_QUANTIZE")
        block = _symbol_block(qsym, qargs, auxs, self.ctx)
        self.weights = None
        return block

    def __call__(self, x):
        x = x.astype("float32", copy=False).as_in_context(self.ctx)
        first = self.block is None
        if first:
            self.block = self._build(x)
        try:
            out = self.block(x)
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if first:  # waited for: a graph oneDNN cannot run fails here, not in a caller's loop
                for o in out:
                    o.wait_to_read()
        except mx.base.MXNetError as err:
            if not first:
                raise
            self.block = None
            kept = f"float32 parts {list(self.parts)}" if self.parts else "this network"
            raise RuntimeError(f"int8 with {kept} fails in MXNet 1.9.1's oneDNN "
                               f"({one_line(err)}); keep fewer parts float32, or set "
                               f"eval.dtype=float32") from None
        return out if self.sequence else out[0]

    def __getattr__(self, name):
        return getattr(self.__dict__["net"], name)


def _symbol_block(sym, args, auxs, ctx):
    """A hybridized SymbolBlock of ``sym`` (input "data") with these parameters."""
    with warnings.catch_warnings():  # the input's type is known once it is called
        warnings.simplefilter("ignore", UserWarning)
        block = mx.gluon.SymbolBlock(sym, [mx.sym.var("data")])
    with tempfile.TemporaryDirectory() as tmp:  # as quantize_net_v2 loads its block
        path = os.path.join(tmp, "int8.params")
        mx.nd.save(path, dict([(f"arg:{k}", v) for k, v in args.items()] +
                              [(f"aux:{k}", v) for k, v in auxs.items()]))
        block.collect_params().load(path, cast_dtype=True, dtype_source="saved")
    block.collect_params().reset_ctx(ctx)
    block.hybridize(static_alloc=True, static_shape=True)
    return block


def quantized(net, thresholds, parts=(), ctx=mx.cpu(), values=None):
    return Quantized(net, thresholds, check_parts(parts), ctx, values)


def int8_nodes(run):
    """The quantized operator nodes of a built ``Quantized`` network (after its first call)."""
    graph = json.loads(run.block._cached_graph[1].tojson())
    return [n["name"] for n in graph["nodes"] if n["op"] != "null" and (
        n["op"].startswith("_contrib_quantized") or
        n.get("attrs", {}).get("quantized") == "true")]


# --- the cache beside the checkpoint ----------------------------------------------------------

def settings(cfg):
    """The config values the thresholds depend on (beside the checkpoint's weights)."""
    e = cfg["eval"]
    found = dict(clips=int(e["int8_calibration_clips"]), calibration=e["int8_calibration"],
                 float32=check_parts(e["int8_float32"]), seed=int(cfg["train"]["seed"]),
                 quantized_dtype=QUANTIZED_DTYPE, granularity=GRANULARITY,
                 auto=bool(e["int8_auto"]))
    if found["auto"]:
        found.update(tolerance=float(e["int8_tolerance"]),
                     check_clips=min(int(e["int8_check_clips"]), found["clips"]))
    return found


def cache_path(ckpt):
    """Beside the checkpoint: epoch-005.params -> epoch-005.int8.json."""
    return os.path.splitext(ckpt)[0] + ".int8.json"


def read_cache(ckpt, wanted, digest):
    """(thresholds, float32 parts) cached for this checkpoint with ``wanted`` settings; None if
    there is none or the checkpoint changed; one-line ValueError if the settings differ."""
    path = cache_path(ckpt)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        saved = json.load(f)
    if saved.get("checkpoint_sha256") != digest:
        return None
    if saved.get("settings") != wanted:
        differ = ", ".join(f"{k} {saved.get('settings', {}).get(k)!r} (now {v!r})"
                           for k, v in wanted.items()
                           if saved.get("settings", {}).get(k) != v)
        raise ValueError(f"{path} holds int8 thresholds calibrated with other settings: "
                         f"{differ}; delete it to recalibrate, or set eval.int8_* as it says")
    if "float32_chosen" not in saved:
        raise ValueError(f"{path} has no float32_chosen: it was not written by this version; "
                         f"delete it to recalibrate")
    return ({k: tuple(v) for k, v in saved["thresholds"].items()},
            check_parts(saved["float32_chosen"]))


def write_cache(ckpt, wanted, digest, thresholds, chosen, tried=()):
    """The thresholds, the float32 parts they run with and the automatic choice's trials."""
    from common.files import atomic_write_text
    atomic_write_text(cache_path(ckpt), json.dumps(dict(
        settings=wanted, checkpoint_sha256=digest, mxnet=mx.__version__,
        float32_chosen=list(chosen), thresholds=thresholds,
        checks=[dict(float32=p, agreement=a) for p, a in tried]), indent=1))


def calibration_clips(dataset, count, with_labels=False):
    """``count`` training clips (float32 (N, C, T, H, W)) spread evenly over ``dataset``'s
    videos (train mode: its seeded random clip, box jitter and mirror); more clips than videos
    take further epochs' clips of the same videos. ``with_labels``: (clips, their class labels)."""
    n = len(dataset)
    clips, labels = [], []
    for k in range(count):
        dataset.set_epoch(k // n)
        item = dataset[(k * n // count) if count <= n else k % n]
        clips.append(np.asarray(item[0], np.float32))
        labels.append(int(np.asarray(item[1]).ravel()[0]))
    dataset.set_epoch(0)
    return (np.stack(clips), np.array(labels)) if with_labels else np.stack(clips)
