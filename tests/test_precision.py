"""precision.py: bfloat16 inference matches float32 within what bfloat16's 8-bit mantissa allows,
the keypoint decoders stay float32, eval_action and training run in bfloat16 on a CPU, and
float16 on a CPU is refused with one line."""
import json
import logging
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

import eval_action
import train_action
from engine.config import load_config
from engine.inference import precision
from helpers import ROOT, config, needs_bfloat16, overrides
from symbols import get_model
from tools import compare_dtypes

# One bfloat16 rounding moves a value by at most 2**-8 of itself. An output of a tiny network
# carries the roundings of the ~10 convolutions on its path, which mostly cancel (measured:
# 0.5-1.3 % of the output's largest magnitude); 6 roundings adding up in the same direction
# (2.3 %) bounds them with room and still fails a network computed in the wrong precision
# (float16 weights where bfloat16 is asked would be 8x closer, a zeroed layer 100 %).
TOL = 6 * precision.BF16_EPS


def seeded(name, **options):
    """A tiny model with Xavier weights (outputs of order 1) and an input for it."""
    mx.random.seed(0)
    net = get_model(name, **options)
    net.initialize(mx.init.Xavier(magnitude=2), force_reinit=True)
    c = net.config
    size = (c.input_size,) * 2
    shape = (2, 3) + size if getattr(c, "parts", None) == "pose" else (2, 3, c.num_frames) + size
    net.hybridize(static_alloc=True)
    return net, mx.nd.random.uniform(shape=shape)


@needs_bfloat16
@pytest.mark.parametrize("name", ["action_machine_tiny", "softargmax_pose_tiny"])
def test_the_bfloat16_model_matches_float32_within_the_tolerance(name):
    net, x = seeded(name)
    reference = precision.to_numpy(net(x))
    low = precision.for_inference(net, "bfloat16", mx.cpu())
    got = low(x)
    assert all(np.dtype(o.dtype) == np.float32 for o in got)  # outputs come back float32
    for out, r, g in zip(net.output_names, reference, precision.to_numpy(got)):
        if out == "pose":  # after an arg-max: a near tie may pick the next cell (test below)
            continue
        assert np.abs(g - r).max() <= TOL * np.abs(r).max(), out
        assert not np.array_equal(g, r), out  # it did compute in 16 bits
    # the float32 network is untouched by the conversion
    assert all(np.array_equal(a, b) for a, b in zip(reference, precision.to_numpy(net(x))))


@needs_bfloat16
def test_a_one_head_model_keeps_its_output_structure_in_bfloat16():
    # the converted block returns a bare array for one output; the network returns a list of
    # one, which eval_action zips with output_names (a bare array zipped its rows: a crash)
    net, x = seeded("i3d_tiny")
    reference = net(x)
    got = precision.for_inference(net, "bfloat16", mx.cpu())(x)
    assert isinstance(reference, (list, tuple)) and len(reference) == 1
    assert isinstance(got, (list, tuple)) and len(got) == 1
    assert got[0].shape == reference[0].shape
    r, g = reference[0].asnumpy(), got[0].asnumpy()
    assert np.abs(g - r).max() <= TOL * np.abs(r).max()


@needs_bfloat16
@pytest.mark.parametrize("decoder", ["argmax", "softargmax"])
def test_the_keypoint_decoders_and_soft_operators_stay_float32(decoder):
    net, x = seeded("action_machine_tiny", decoder=decoder, bn_fold_time=False)
    low = precision.for_inference(net, "bfloat16", mx.cpu())
    low(x)
    nodes = precision.node_precisions(low)
    decoding = {n: v for n, v in nodes.items() if n.startswith(net.decoder.name)}
    assert decoding and all(p == "float32" for _, p in decoding.values()), decoding
    assert all(p == "float32" for op, p in nodes.values()
               if op in ("softmax", "argmax", "pick", "Deconvolution", "sigmoid"))
    convs = [p for op, p in nodes.values() if op in ("Convolution", "FullyConnected")]
    assert convs and set(convs) == {"bfloat16"}


def test_float16_on_a_cpu_and_bfloat16_on_a_gpu_are_refused_with_one_line():
    for dtype, ctx, says in (("float16", mx.cpu(), "needs a GPU"),
                             ("bfloat16", mx.gpu(0), "on a GPU use float16")):
        with pytest.raises(ValueError, match=says) as err:
            precision.check_dtype(dtype, ctx)
        assert "\n" not in str(err.value)
    with pytest.raises(SystemExit, match=r"^error: eval.dtype=float16 needs a GPU[^\n]*$"):
        eval_action.main(["--config", config("kps"), "--dtype", "float16"])
    with pytest.raises(ValueError, match="train.amp=float16 needs a GPU"):
        precision.check_training_dtype("float16", [mx.cpu()])


def bf16(a):
    return mx.nd.amp_cast(a, dtype=precision.BFLOAT16)


@needs_bfloat16
@pytest.mark.parametrize("layer", ["conv3d", "conv2d", "fc", "batchnorm"])
def test_bfloat16_backward_of_conv_bn_fc_matches_float32(layer):
    """The measurement behind train.amp=bfloat16 on CPUs: oneDNN's bfloat16 backward passes
    give float32's gradients to bfloat16's rounding (measured 0.2-0.3 %)."""
    rs = np.random.RandomState(0)
    ops = {
        "conv3d": (lambda a: mx.nd.Convolution(*a, kernel=(3, 1, 1), pad=(1, 0, 0),
                                               num_filter=16, no_bias=True),
                   [(2, 8, 4, 8, 8), (16, 8, 3, 1, 1)], 2),
        "conv2d": (lambda a: mx.nd.Convolution(*a, kernel=(3, 3), pad=(1, 1), num_filter=16,
                                               no_bias=True), [(2, 8, 8, 8), (16, 8, 3, 3)], 2),
        "fc": (lambda a: mx.nd.FullyConnected(*a, num_hidden=16, no_bias=True),
               [(4, 64), (16, 64)], 2),
        # data in bfloat16, gamma and beta float32, as AMP runs batch norm
        "batchnorm": (lambda a: mx.nd.BatchNorm(a[0], a[1], a[2], mx.nd.zeros(8), mx.nd.ones(8),
                                                fix_gamma=False), [(4, 8, 6, 6), (8,), (8,)], 1),
    }
    op, shapes, cast = ops[layer]
    arrays = [mx.nd.array(rs.randn(*s) * (1.0 if i == 0 else 0.3)) for i, s in enumerate(shapes)]
    if layer == "batchnorm":
        arrays[1] += 1  # gamma around 1
    head = None
    grads = {}
    for dtype in ("float32", "bfloat16"):
        for a in arrays:
            a.attach_grad()
        with autograd.record(train_mode=True):
            ins = [bf16(a) if dtype == "bfloat16" and i < cast else a
                   for i, a in enumerate(arrays)]
            y = precision.to_float32(op(ins))[0]
            if head is None:
                head = mx.nd.array(np.random.RandomState(1).randn(*y.shape))
            (y * head).sum().backward()
        grads[dtype] = [a.grad.asnumpy() for a in arrays]
    for g32, g16 in zip(grads["float32"], grads["bfloat16"]):
        assert np.linalg.norm(g16 - g32) <= 2 * precision.BF16_EPS * np.linalg.norm(g32)


def tiny_run(work, out, *extra):
    return ["--config", config("kps")] + overrides(work, out, "train.epochs=1",
                                                   "train.lr_steps=[]", *extra)


@needs_bfloat16
def test_train_amp_bfloat16_runs_on_a_cpu_and_saves_float32(synth_work, tmp_path):
    # amp.init rewrites MXNet's operators for the whole process: train in a child process
    out = str(tmp_path / "bf16")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "train_action.py"] +
                          tiny_run(synth_work, out, "train.amp=bfloat16"),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = mx.nd.load(os.path.join(out, "final.params"))
    assert saved and all(np.dtype(v.dtype) == np.float32 for v in saved.values())
    assert all(np.isfinite(v.asnumpy()).all() for v in saved.values())
    reference = str(tmp_path / "fp32")
    train_action.main(tiny_run(synth_work, reference))
    epoch = {}
    for run in (out, reference):
        lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        epoch[run] = next(l for l in lines if l["kind"] == "epoch")
    # the same seeded steps: bfloat16's losses follow float32's (its gradients differ from
    # float32's by as much as float32's own under bfloat16-sized changes of the input)
    for loss in ("loss_rgb", "loss_kps"):
        assert abs(epoch[out][loss] - epoch[reference][loss]) <= 0.05 * epoch[reference][loss]


def test_train_amp_float16_on_a_cpu_is_one_line(synth_work, tmp_path):
    with pytest.raises(SystemExit, match=r"^error: train.amp=float16 needs a GPU[^\n]*$"):
        train_action.main(tiny_run(synth_work, str(tmp_path / "fp16"), "train.amp=float16"))


@needs_bfloat16
def test_eval_in_bfloat16_and_the_dtype_table(synth_work, tmp_path):
    run = str(tmp_path / "kps")
    train_action.main(tiny_run(synth_work, run))
    cfg = load_config(config("kps"), tiny_run(synth_work, run)[2:])
    float32 = eval_action.run(cfg, [mx.cpu()])
    out = str(tmp_path / "dtypes")
    table = compare_dtypes.compare([("tiny", "g", [("KPS RGBAction", cfg)])], out)
    results = table[0][1][0][1]
    assert results["float32"]["top1"] == float32["top1"]  # the same eval, another folder
    assert results["bfloat16"]["videos"] == 10 and set(results["bfloat16"]["top1"]) == {"rgb"}
    assert os.path.isfile(os.path.join(out, "g", f"{cfg['experiment']}_bfloat16",
                                       "results.json"))
    assert json.load(open(os.path.join(run, "results.json")))["top1"] == float32["top1"]
    a, b = (100 * results[d]["top1"]["rgb"] for d in ("float32", "bfloat16"))
    text = compare_dtypes.write(table, out)
    assert f"| KPS RGBAction | rgb | {a:.1f} | {b:.1f} | {b - a:+.1f} |" in text
    assert f"largest difference: {abs(b - a):.1f} points" in text


@needs_bfloat16
def test_after_amp_training_a_float32_eval_in_the_same_process_is_refused():
    # amp.init cannot be undone: a float32 evaluation after it would silently run in bfloat16
    script = (
        "import mxnet as mx\n"
        "from engine.inference import precision\n"
        "from mxnet import gluon\n"
        "net = gluon.nn.Dense(2); net.initialize()\n"
        "trainer = gluon.Trainer(net.collect_params(), 'sgd')\n"
        "precision.init_training(trainer, 'bfloat16', [mx.cpu()])\n"
        "precision.for_inference(net, 'bfloat16', mx.cpu())\n"
        "try:\n"
        "    precision.for_inference(net, 'float32', mx.cpu())\n"
        "except ValueError as e:\n"
        "    print('refused:', e)\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: this process ran AMP training (train.amp=bfloat16)" in proc.stdout


# --- float32: oneDNN's fused graph ------------------------------------------------------------

def op_counts(net):
    ops = list(precision.graph_ops(net).values())
    return {op: ops.count(op) for op in set(ops)}


@pytest.mark.parametrize("name", ["action_machine_tiny", "softargmax_pose_tiny"])
def test_the_fused_float32_graph_fuses_every_convolution_and_matches_the_plain_one(name):
    options = dict(bn_fold_time=False) if name.startswith("action") else {}
    net, x = seeded(name, **options)
    reference = precision.to_numpy(net(x))
    plain = op_counts(net)  # the unfused graph: an independent count of what should fuse
    fused = precision.for_inference(net, "float32", mx.cpu())
    got = precision.to_numpy(fused(x))
    ops = op_counts(net)
    # every convolution is inside a fused node with its batch norm; the batch norms left are
    # those after a Deconvolution (the pose head's), which oneDNN does not fuse
    assert "Convolution" not in ops
    assert ops["_sg_mkldnn_conv"] == plain["Convolution"] == len(
        [n for n in fused.fused if n.startswith("sg_mkldnn_conv")])
    assert ops.get("BatchNorm", 0) == plain.get("Deconvolution", 0)
    if name.startswith("action"):  # the blocks' ReLU, as Activation, fused too
        assert ops.get("Activation", 0) == plain.get("Deconvolution", 0)
    # Fusion folds batch norm into the weights and reorders sums: float32 rounding only
    # (measured <= 9e-7 of the largest magnitude); 1e-4 is the contract.
    for out, r, g in zip(net.output_names, reference, got):
        assert np.abs(g - r).max() <= 1e-4 * np.abs(r).max(), out
    assert fused.output_names == net.output_names  # read as the network itself
    x3 = mx.nd.random.uniform(shape=(3,) + x.shape[1:])  # another batch size replans
    assert precision.to_numpy(fused(x3))[0].shape[0] == 3


RESIDUAL_OPS = ("Convolution", "BatchNorm", "elemwise_add", "_Plus", "broadcast_add")


def relus_after_convolutions(net, inputs):
    """[(ReLU operator, how many nodes read its input)] of every ReLU whose input is a
    convolution, batch norm or sum, read off the symbolic graph (no fusion pass involved)."""
    out = net(*inputs)
    graph = json.loads(mx.sym.Group(list(out) if isinstance(out, (list, tuple)) else [out])
                       .tojson())
    nodes, readers = graph["nodes"], {}
    for node in nodes:
        for entry in node["inputs"]:
            readers[entry[0]] = readers.get(entry[0], 0) + 1
    found = []
    for node in nodes:
        relu = node["op"] == "relu" or (node["op"] == "Activation" and
                                        node.get("attrs", {}).get("act_type") == "relu")
        source = node["inputs"][0][0] if node["inputs"] else None
        if relu and nodes[source]["op"] in RESIDUAL_OPS:
            found.append((node["op"], readers[source]))
    return found


@pytest.mark.parametrize("name", ["action_machine_tiny", "softargmax_pose_tiny",
                                  "softargmax_multitask_tiny", "dcn_rfcn_tiny"])
def test_relus_after_a_convolution_are_fusable_unless_their_input_is_read_twice(name):
    # oneDNN's pass fuses Activation(relu) into the convolution (+ batch norm, + sum) before it
    # and leaves the relu operator alone. Where that input is read elsewhere too (the
    # pre-activation units of the soft-argmax model, whose shortcut reads the sum), MXNet
    # 1.9.1's fused graph is wrong (2-5e-4 of the largest output against float64's 1e-7): there
    # the ReLU must stay the plain operator.
    if name.startswith("dcn"):
        from symbols.detector import rfcn
        net, inputs = rfcn.get_detector(name), [mx.sym.var("data"), mx.sym.var("im_info")]
    else:
        net, inputs = get_model(name), [mx.sym.var("data")]
    found = relus_after_convolutions(net, inputs)
    assert found
    assert [op for op, readers in found if readers > 1 and op == "Activation"] == []
    if not name.startswith("softargmax"):  # there a unit's leading ReLU stays plain throughout
        assert [op for op, readers in found if readers == 1 and op == "relu"] == []
    assert "Activation" in [op for op, _ in found]


def test_a_graph_oneDNN_cannot_fuse_is_said_in_one_line_and_runs_unfused(caplog):
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Activation("tanh"))
    net.initialize()
    net.hybridize(static_alloc=True)
    x = mx.nd.random.uniform(shape=(2, 3))
    with caplog.at_level(logging.WARNING):
        got = precision.for_inference(net, "float32", mx.cpu())(x)
    assert np.allclose(got.asnumpy(), np.tanh(x.asnumpy()), atol=1e-6)
    lines = [r.getMessage() for r in caplog.records if "oneDNN" in r.getMessage()]
    assert len(lines) == 1 and "fused no convolution" in lines[0] and "\n" not in lines[0]


def test_a_failing_fusion_pass_falls_back_to_the_plain_graph(caplog, monkeypatch):
    net, x = seeded("action_machine_tiny", bn_fold_time=False)
    reference = precision.to_numpy(net(x))

    def broken(*args, **kwargs):
        raise mx.base.MXNetError("backend MKLDNN is not registered\nmore")
    monkeypatch.setattr(net, "optimize_for", broken)
    with caplog.at_level(logging.WARNING):
        got = precision.to_numpy(precision.for_inference(net, "float32", mx.cpu())(x))
    assert all(np.array_equal(a, b) for a, b in zip(reference, got))
    assert any("could not fuse" in r.getMessage() and "\n" not in r.getMessage()
               for r in caplog.records)


def test_a_difference_prints_alike_in_its_row_and_as_the_largest():
    # 216 and 212 of 320 videos: 1.25 points, a tie that two float computations round apart
    results = {"float32": {"top1": {"pose": 216 / 320}}, "int8": {"top1": {"pose": 212 / 320},
                                                                  "float32_parts": []}}
    table = [("pseudo-poses", [("KPS PoseAction", results)])]
    row = compare_dtypes.markdown(table, "int8").splitlines()[2]
    shown = row.split(" | ")[4].split(" ")[0]
    assert f"{compare_dtypes.largest_difference(table, 'int8'):.1f}" == shown.lstrip("-+")
    assert row.startswith("| KPS PoseAction | pose | 67.5 | 66.2 |")
    assert "(over 1.0)" in row
