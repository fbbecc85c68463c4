"""Export a video model to ONNX, with MXNet's outputs on the same clips for check_onnx.py.

    python export_onnx.py --config configs/action_machine/synth/synth_xview3_kps_pose_r18.yaml
                          [--checkpoint FILE] [--untrained] [--out DIR] [--clips N] [key=value ...]
    make onnx CONFIG=... [CHECKPOINT=FILE] [ARGS=--untrained]   export, then check_onnx.py

The graph is the config's network built exportable (``ActionMachine(exportable=True)``: the
same parameters and outputs from operators MXNet 1.9's exporter translates), ONNX opset 13, one
input and every head the model has:

    clips      (N, 3, T, S, S) float32, ImageNet-normalised (data.transforms.to_network); N free
    rgb        (N, n) logits
    heatmaps   (N, T, K, S/8, S/8) logits                       pose head
    offsets    (N, T, K, 2, S/8, S/8) in units of the disk radius
    keypoints  (N, T, K, 3): x, y in input pixels, confidence ReLU(max logit); Eq. (6)'s decoder
    pose       (N, n) logits                                     pose CNN

Writes to OUT (default {out}/onnx): model.onnx; reference.npz, the clips and the outputs on them
of the network eval_action.py builds (keypoints by the NumPy decoder), so the file is checked
against the model as it is evaluated, not against its own export; export.json (checkpoint, names,
shapes, sizes, timings, and how far the exportable MXNet network is from the evaluated one).
The clips are the centre views of the config's first test videos when its prepared data exist,
else seeded noise; ``--untrained`` exports the config's seeded initial weights (to check the
export of a model no one has trained here, e.g. the paper-size one).
"""
import contextlib
import io
import json
import os
import tempfile
import time

from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser, cpus=False)
    parser.add_argument("--checkpoint", help="default: the config's run's last checkpoint")
    parser.add_argument("--untrained", action="store_true",
                        help="export the config's seeded initial weights (no checkpoint)")
    parser.add_argument("--out", help="default: {out}/onnx of the config")
    parser.add_argument("--clips", type=int, default=2, help="reference clips (default 2)")
    args = parser.parse_args(argv)
    if args.untrained and args.checkpoint:
        parser.error("--untrained exports initial weights: give it or --checkpoint, not both")
    if args.clips < 1:
        parser.error("--clips must be >= 1")
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx
import numpy as np
from mxnet.gluon.block import HybridBlock

from engine.config import load_config_or_exit
from common.errors import check_writable, exit_on_error
from common.files import atomic_write_bytes, atomic_write_text
from data.index import read_boxes
from engine.training.checkpoints import checkpoint_or_last, load_weights
from engine.systems import build_model, checked_against_checkpoint
from engine.experiment import model_options, setup_logging, split_samples
from engine.views.cam import centre_view
from symbols import model_config
from symbols.action_machine import ActionMachine
from symbols.pose_decoder import KeypointDecoder, decode_pose_maps

OPSET = 13  # what MXNet 1.9.1's translations are written for (ReduceMax etc. changed at 18)


class WithKeypoints(HybridBlock):
    """The exported graph: the model's outputs, with the decoded keypoints (input pixels) after
    the offsets when it has a pose head."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.decoder = None
        if net.pose_head is not None:
            self.decoder = KeypointDecoder(net.stride, net.radius, exportable=True)

    @property
    def output_names(self):
        names = list(self.net.output_names)
        if self.decoder is not None:
            names.insert(names.index("offsets") + 1, "keypoints")
        return names

    def hybrid_forward(self, F, x):
        outputs = list(self.net(x))
        if self.decoder is not None:
            outputs.insert(3, self.decoder(outputs[1], outputs[2]))  # after heatmaps, offsets
        return tuple(outputs)


def exportable_network(cfg, reference, ctx):
    """The config's network built exportable, with ``reference``'s parameters (by name)."""
    options = dict(model_options(cfg), sync_devices=0)
    kwargs = dict(model_config(cfg["model"]["name"], **options).network_kwargs(),
                  bn_fold_time=False, exportable=True)
    net = ActionMachine(**kwargs)
    net.initialize(ctx=ctx)
    theirs = reference._collect_params_with_prefix()
    for name, param in net._collect_params_with_prefix().items():
        param.set_data(theirs[name].data())  # every shape is known: no deferred init
    return net


def reference_clips(cfg, n, seed):
    """-> (clips (n, 3, T, S, S) float32, what they are): the centre views of the config's first
    n test videos when its prepared data exist, else seeded noise of ImageNet-normalised scale."""
    d = cfg["data"]
    try:
        samples = split_samples(cfg, "test")[:n]
        boxes = read_boxes(d["boxes"])[0] if d["crop"] == "person" else None
        clips = np.stack([centre_view(cfg, s, boxes)["clip"] for s in samples])
        return clips, "centre views of test videos " + ", ".join(s["id"] for s in samples)
    except (OSError, ValueError, KeyError):
        shape = (n, 3, d["clip_len"], d["size"], d["size"])
        return (np.random.RandomState(seed).normal(0, 1, shape).astype(np.float32),
                f"seeded noise N(0, 1), seed {seed} (no prepared test data at {d['prepared']})")


@contextlib.contextmanager
def graph_check_deferred():
    """MXNet's converter checks the graph against the onnx package's newest opset (23 for onnx
    1.18), where its opset-13 ReduceMax is invalid; the whole model is checked at opset 13
    after the conversion instead."""
    import onnx.checker
    check = onnx.checker.check_graph
    onnx.checker.check_graph = lambda *args, **kwargs: None
    try:
        yield
    finally:
        onnx.checker.check_graph = check


def to_onnx(block, names, shape):
    """A hybridized block -> an ONNX ModelProto (opset 13): input "clips" with a free batch
    axis, outputs named ``names``, parameters as initializers only."""
    import onnx
    from mxnet.onnx.mx2onnx._export_helper import load_module
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    with tempfile.TemporaryDirectory() as tmp:
        block.export(os.path.join(tmp, "net"))
        sym, params = load_module(os.path.join(tmp, "net-symbol.json"),
                                  os.path.join(tmp, "net-0000.params"))
    with graph_check_deferred():
        graph = MXNetGraph().create_onnx_graph_proto(
            sym, params, [shape], [onnx.TensorProto.FLOAT], opset_version=OPSET, dynamic=True,
            dynamic_input_shapes=[(None,) + tuple(shape[1:])])
    renames = {graph.input[0].name: "clips"}
    renames.update({o.name: n for o, n in zip(graph.output, names)})
    for node in graph.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
        node.output[:] = [renames.get(o, o) for o in node.output]
    for value in list(graph.input) + list(graph.output):
        value.name = renames.get(value.name, value.name)
    weights = {t.name for t in graph.initializer}
    kept = [v for v in graph.input if v.name not in weights]
    del graph.input[:]
    graph.input.extend(kept)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   ir_version=7, producer_name="action-machine export_onnx.py")
    onnx.checker.check_model(model, full_check=True)
    return model


def forward(net, clips, ctx):
    start = time.perf_counter()
    outputs = [o.asnumpy() for o in net(mx.nd.array(clips, ctx=ctx))]
    return outputs, time.perf_counter() - start


def main(argv=None):
    args = cli.start(parse_args(argv))
    cfg = load_config_or_exit(args.config, args.overrides)
    with exit_on_error():
        ckpt = None
        if not args.untrained:
            ckpt = checkpoint_or_last(cfg["out"], args.checkpoint or cfg["eval"]["checkpoint"])
            cfg = checked_against_checkpoint(cfg, ckpt)
        out = args.out or os.path.join(cfg["out"], "onnx")
        check_writable(out)
        log = setup_logging(out, "export_onnx")
    with exit_on_error(log):
        return run(cfg, ckpt, out, args.clips, log)


def run(cfg, ckpt, out, num_clips, log):
    ctx = mx.cpu()
    seed = cfg["train"]["seed"]
    mx.random.seed(seed)
    cfg["model"]["pretrained"] = None  # weights come from the checkpoint or the seeded init
    reference = build_model(cfg, [ctx])
    if ckpt:
        load_weights(reference, ckpt, [ctx], log)
    else:
        log.info("untrained: the config's initial weights, seed %d", seed)
    clips, source = reference_clips(cfg, num_clips, seed)
    log.info("reference clips %s: %s", clips.shape, source)
    reference.hybridize(static_alloc=True)
    forward(reference, clips[:1], ctx)  # shapes and memory on the first call, not timed
    outputs, mx_seconds = forward(reference, clips, ctx)
    results = dict(zip(reference.output_names, outputs))
    if "heatmaps" in results:
        results["keypoints"] = decode_pose_maps(results["heatmaps"], results["offsets"],
                                                reference.stride, reference.radius, "relu")
    block = WithKeypoints(exportable_network(cfg, reference, ctx))
    block.hybridize()
    exported, _ = forward(block, clips, ctx)
    gap = {n: float(np.abs(v - results[n]).max()) for n, v in zip(block.output_names, exported)}
    log.info("exportable MXNet network vs the evaluated one, max abs difference: %s",
             ", ".join(f"{n} {v:.3g}" for n, v in gap.items()))
    start = time.perf_counter()
    model = to_onnx(block, block.output_names, clips.shape)
    seconds = time.perf_counter() - start
    path = os.path.join(out, "model.onnx")
    atomic_write_bytes(path, model.SerializeToString())
    buffer = io.BytesIO()
    np.savez(buffer, clips=clips, **{n: results[n] for n in block.output_names})
    atomic_write_bytes(os.path.join(out, "reference.npz"), buffer.getvalue())
    record = dict(config=cfg["experiment"], model=cfg["model"]["name"], checkpoint=ckpt,
                  onnx=path, bytes=os.path.getsize(path), opset=OPSET, input="clips",
                  input_shape=["N"] + list(clips.shape[1:]), outputs=block.output_names,
                  shapes={n: list(results[n].shape) for n in block.output_names},
                  clips=source, export_seconds=round(seconds, 2),
                  mxnet_seconds_per_clip=round(mx_seconds / len(clips), 4),
                  exportable_vs_evaluated=gap)
    atomic_write_text(os.path.join(out, "export.json"), json.dumps(record, indent=1))
    log.info("wrote %s (%.1f MB, opset %d, outputs %s) in %.1f s; reference outputs in %s",
             path, record["bytes"] / 2 ** 20, OPSET, ", ".join(block.output_names), seconds,
             os.path.join(out, "reference.npz"))
    return record


if __name__ == "__main__":
    main()
