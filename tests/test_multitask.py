"""The multitask network (Luvizon et al. 2018): output contracts at tiny and paper sizes, the
parameter count against a hand count of the cvpr18 layer table, hybridized = imperative,
frames kept apart, end-to-end gradients, the action parts against NumPy, config errors."""
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from symbols import get_model, multitask_config
from symbols.__main__ import main
from symbols.multitask.action_recognition import (
    ActionAggregation,
    AppearanceFeatures,
    joint_maps,
    max_plus_min_pool,
)
from symbols.summary import count_params


def clip_shape(c, n=2, frames=None):
    if c.parts == "pose":
        return (n, 3, c.input_size, c.input_size)
    return (n, 3, frames or c.num_frames, c.input_size, c.input_size)


def expected_shapes(net, n, frames):
    c = net.config
    lead = (n,) if c.parts == "pose" else (n, frames)
    shapes = {}
    for k in range(c.pose_blocks):
        shapes[f"pose{k + 1}"] = lead + (c.num_joints, 3)
        shapes[f"visible{k + 1}"] = lead + (c.num_joints,)
    for b in range(c.action_blocks):
        shapes[f"pose_action{b + 1}"] = shapes[f"appearance_action{b + 1}"] = (n, c.num_actions)
    shapes["action"] = (n, c.num_actions)
    return [shapes[name] for name in net.output_names]


@pytest.mark.parametrize("name,size,frames", [
    ("softargmax_pose_tiny", 64, None), ("softargmax_pose_tiny", 96, None),
    ("softargmax_multitask_tiny", 64, 4), ("softargmax_multitask_tiny", 64, 3),
    ("softargmax_multitask_tiny", 96, 5)])
def test_tiny_output_shapes(name, size, frames):
    net = get_model(name, input_size=size)
    outs = net(mx.nd.random.uniform(shape=clip_shape(net.config, 2, frames)))
    assert [o.shape for o in outs] == expected_shapes(net, 2, frames)
    poses = np.stack([o.asnumpy() for o, n in zip(outs, net.output_names) if n[:4] == "pose"
                      and n[4:].isdigit()])
    assert ((poses >= 0) & (poses <= 1)).all()


def test_output_names_follow_the_blocks():
    net = get_model("softargmax_multitask_tiny")
    assert net.output_names == ["pose1", "visible1", "pose2", "visible2", "pose_action1",
                                "pose_action2", "appearance_action1", "appearance_action2",
                                "action"]


@pytest.mark.parametrize("name", ["softargmax_pose_tiny", "softargmax_multitask_tiny"])
def test_hybridized_equals_imperative(name):
    net = get_model(name)
    x = mx.nd.random.uniform(-1, 1, shape=clip_shape(net.config))
    imperative = [o.asnumpy() for o in net(x)]
    net.hybridize()
    for got, want in zip(net(x), imperative):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_frames_are_kept_apart():
    """Frame t's pose depends on frame t only: the time-distributed reshapes keep frames in
    place (inference, so batch norm does not mix frames)."""
    net = get_model("softargmax_multitask_tiny", num_frames=3)
    x = mx.nd.random.uniform(shape=(2, 3, 3, 64, 64))
    pose = net(x)[0].asnumpy()
    x2 = x.copy()
    x2[1, :, 2] = 0  # sample 1, frame 2 only
    changed = np.abs(net(x2)[0].asnumpy() - pose).sum(axis=(2, 3)) > 0  # (N, T)
    assert changed.tolist() == [[False, False, False], [False, False, True]]


def test_action_loss_reaches_the_stem_through_soft_argmax():
    """End-to-end: the pose stream's logits alone move the stem, through the poses."""
    net = get_model("softargmax_multitask_tiny")
    x = mx.nd.random.uniform(shape=clip_shape(net.config))
    with autograd.record():
        out = dict(zip(net.output_names, net(x)))
        loss = out["pose_action1"].sum()
    loss.backward()
    stem = [p.grad().asnumpy() for p in net.stem.collect_params().values()
            if p.grad_req != "null"]
    assert all(np.abs(g).sum() > 0 for g in stem)
    app = [p.grad().asnumpy() for p in net.appearance_action.collect_params().values()
           if p.grad_req != "null"]
    assert all(np.abs(g).sum() == 0 for g in app)  # not a path: the check above is specific


def test_appearance_features_weight_features_by_probability_maps():
    rng = np.random.RandomState(0)
    prob, feat = rng.uniform(size=(2 * 3, 4, 5, 5)), rng.randn(2 * 3, 6, 5, 5)  # N=2, T=3
    got = AppearanceFeatures()(mx.nd.array(prob), mx.nd.array(feat), mx.nd.zeros((2, 3, 1)))
    want = np.einsum("bjhw,bchw->bjc", prob, feat).reshape(2, 3, 4, 6).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-5)


def test_maps_built_from_joints_put_their_mass_bilinearly_around_each_joint():
    """The annotated rows' attention maps by hand on a 5 x 4 grid (cell c at c / (n - 1)): a
    joint at x 0.375, y 0.5 sits between columns 1 and 2 (column 1.125: 0.875 and 0.125) on row 2;
    one on a cell fills that cell; a weight-0 (unknown) joint has no map. Each map's expectation
    (Eq. 2) is its joint."""
    poses = np.array([[[0.375, 0.5, 0.3, 1.0], [0.0, 1.0, 0.9, 1.0], [0.6, 0.2, 0.5, 0.0]]])
    got = joint_maps(mx.nd, mx.nd.array(poses), mx.nd.zeros((1, 3, 5, 4))).asnumpy()
    want = np.zeros((1, 3, 5, 4))
    want[0, 0, 2, 1], want[0, 0, 2, 2] = 0.875, 0.125  # x 0.375 * 3 = column 1.125, y row 2
    want[0, 1, 4, 0] = 1.0
    np.testing.assert_allclose(got, want, atol=1e-6)
    for j in (0, 1):
        rows, cols = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 4), indexing="ij")
        assert (got[0, j] * cols).sum() == pytest.approx(poses[0, j, 0])
        assert (got[0, j] * rows).sum() == pytest.approx(poses[0, j, 1])


def test_attention_maps_annotated_pools_the_features_with_the_annotated_joints():
    """model.options.attention_maps is read: "annotated" pools the appearance features with the
    maps of the given joints (moving them moves the appearance stream, not the pose stream's
    estimated input), "estimated" ignores the given joints in the appearance stream."""
    x = mx.nd.array(np.random.RandomState(0).uniform(-1, 1, (1, 3, 4, 64, 64)))
    poses = np.random.RandomState(1).uniform(0.2, 0.8, (1, 4, 5, 4)).astype(np.float32)
    poses[..., 3] = 1
    moved = poses.copy()
    moved[..., :2] = 1 - moved[..., :2]
    outputs = {}
    for attention in ("annotated", "estimated"):
        mx.random.seed(3)
        net = get_model("softargmax_multitask_tiny", num_frames=4, pose_input="annotated",
                        attention_maps=attention)
        assert net.reads_poses
        outputs[attention] = [dict(zip(net.output_names, net(x, mx.nd.array(p))))
                              for p in (poses, moved)]
    a, b = outputs["annotated"]
    assert not np.allclose(a["appearance_action2"].asnumpy(), b["appearance_action2"].asnumpy())
    a, b = outputs["estimated"]
    np.testing.assert_allclose(a["appearance_action2"].asnumpy(),
                               b["appearance_action2"].asnumpy(), rtol=1e-6)
    mx.random.seed(3)
    net = get_model("softargmax_multitask_tiny", num_frames=4, attention_maps="annotated")
    assert net.pose_input == "estimated" and net.reads_poses
    # the appearance features are the block-1 features pooled by exactly those maps
    features = {}
    net.appearance.register_forward_hook(lambda block, inputs, output: features.update(
        prob=inputs[0].asnumpy(), feat=inputs[1].asnumpy(), out=output.asnumpy()))
    net(x, mx.nd.array(poses))
    want = joint_maps(mx.nd, mx.nd.array(poses.reshape(4, 5, 4)),
                      mx.nd.zeros((4, 5, 8, 8))).asnumpy()
    np.testing.assert_allclose(features["prob"], want, atol=1e-6)
    pooled = np.einsum("bjhw,bchw->bjc", want, features["feat"]).reshape(1, 4, 5, -1)
    np.testing.assert_allclose(features["out"], pooled.transpose(0, 3, 1, 2), rtol=1e-4,
                               atol=1e-5)


def test_max_plus_min_pooling_rounds_up():
    x = np.random.RandomState(1).randn(1, 2, 5, 3)
    got = max_plus_min_pool(mx.nd, mx.nd.array(x)).asnumpy()
    want = np.zeros((1, 2, 3, 2))
    for i in range(3):
        for j in range(2):
            win = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            want[:, :, i, j] = win.max(axis=(2, 3)) + win.min(axis=(2, 3))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_aggregation_starts_as_the_sum_of_the_streams():
    agg = ActionAggregation(4)
    agg.initialize()
    rng = np.random.RandomState(2)
    p, a = rng.randn(2, 4, 3, 3), rng.randn(2, 4, 3, 3)
    got = agg(mx.nd.array(p), mx.nd.array(a)).asnumpy()
    s = p + a
    np.testing.assert_allclose(got, s.max(axis=(2, 3)) + s.min(axis=(2, 3)), rtol=1e-5)


def hand_count(J, Nd, K, k=5, C=576):
    """Trainable parameters of the pose model from the cvpr18 layer table (Keras count: conv
    weights, no biases, one BN shift per channel)."""
    def conv(cin, cout, kh=1, kw=1):
        return kh * kw * cin * cout + cout  # + BN shift

    def sep(cin, cout, kk):
        return kk * kk * cin + cin * cout + cout

    def sr(cin, cout, kk):
        n = conv(cin, cout) if cin != cout else 0
        if cout < cin:
            return n + conv(cin, cout) + sep(cout, cout, kk)
        return n + sep(cin, cout, kk)

    stem = (conv(3, 32, 3, 3) + conv(32, 32, 3, 3) + conv(32, 64, 3, 3) + conv(64, 96, 3, 3)
            + conv(160, 64) + conv(64, 96, 3, 3)
            + conv(160, 64) + conv(64, 64, 5, 1) + conv(64, 64, 1, 5) + conv(64, 96, 3, 3)
            + conv(192, 192, 3, 3) + sr(384, 576, 3))
    h = C // 2
    multires = sr(C, C, k) + conv(C, h) + 5 * sr(h, h, k) + sr(h, C, k)
    block = multires + sep(C, C, k) + J * Nd * C  # + regression maps, no BN
    remap = conv(J * Nd, C)
    return stem + K * block + (K - 1) * remap


def trainable(net):
    return sum(int(np.prod(p.shape)) for p in net.collect_params().values()
               if p.grad_req != "null")


def test_paper_size_pose_model_forward_and_parameter_count():
    """Paper size (Human3.6M: K = 8, J = 17, Nd = 16) at 256 x 256; the paper states no
    parameter count, so the count is checked against the cvpr18 layer table by hand."""
    net = get_model("softargmax_pose")
    assert trainable(net) == hand_count(J=17, Nd=16, K=8) == 16_605_312
    assert count_params(net) == 16_720_224  # + batch norm's fixed scale and running statistics
    start = time.time()
    outs = net(mx.nd.random.uniform(shape=(1, 3, 256, 256)))
    mx.nd.waitall()
    assert time.time() - start < 60
    assert len(outs) == 16
    assert all(o.shape == ((1, 17, 3) if i % 2 == 0 else (1, 17)) for i, o in enumerate(outs))


def test_paper_size_multitask_shapes_by_symbolic_inference():
    net = get_model("softargmax_multitask")  # NTU: K = 4, J = 20, Nd = 16, T = 20, 60 actions
    assert trainable(net.stem) + sum(trainable(b) for b in net.blocks) == \
        hand_count(J=20, Nd=16, K=4)
    out = mx.sym.Group(list(net(mx.sym.var("data"))))
    _, shapes, _ = out.infer_shape(data=(1, 3, 20, 256, 256))
    got = dict(zip(net.output_names, shapes))
    assert got["pose4"] == (1, 20, 20, 3) and got["visible4"] == (1, 20, 20)
    assert got["pose_action4"] == got["appearance_action4"] == got["action"] == (1, 60)
    assert net.pose_action.blocks[0].conv.conv.weight.shape == (224, 224, 3, 3)  # 'v2' widths


def test_main_prints_the_stage_table_and_param_count(capsys):
    main(["softargmax_multitask_tiny", "--frames", "3"])
    out = capsys.readouterr().out
    assert "block2" in out and "app_act" in out and "aggregate" in out
    assert out.strip().splitlines()[-1] == \
        f"params: {count_params(get_model('softargmax_multitask_tiny'))}"


@pytest.mark.parametrize("overrides,message", [
    ({"depth_bin": 4}, "unknown model option 'depth_bin'"),
    ({"parts": "action"}, "parts is one of"),
    ({"input_size": 80}, "divisible by 32"),
    ({"pose_dim": 4}, "pose_dim is 2 or 3"),
    ({"pose_action_filters": (2, 4)}, "six entry widths"),
    ({"context_maps": 2}, "its pose stream reads pose_dim 2"),
    ({"context_maps": 2, "context_alpha": 1.5, "pose_dim": 2}, "context_alpha in"),
])
def test_bad_configs_are_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_model("softargmax_multitask_tiny", **overrides)


def test_config_round_trips_and_pretrained_is_refused():
    c = multitask_config("softargmax_multitask", pose_action_filters=[8, 16, 24, 56, 32, 56])
    assert c.pose_action_filters == (8, 16, 24, 56, 32, 56) and c.pose_blocks == 4
    with pytest.raises(ValueError, match="no pretrained weights"):
        get_model("softargmax_pose_tiny", pretrained=True)


def test_the_2d_context_model_is_an_option_of_the_same_network():
    """Ref. [28]'s 2D model (context_maps C): each block regresses J sharp + C*J context maps
    (Nd*J volumetric ones otherwise) and decodes them with ContextSoftArgmax, whose pose the
    NumPy reference gives from the block's own heat maps; every other layer is the same."""
    from symbols.softargmax import context_soft_argmax
    J, C = 5, 2
    net = get_model("softargmax_pose_tiny", num_joints=J, context_maps=C)
    volumetric = get_model("softargmax_pose_tiny", num_joints=J)
    shapes = {k: v.shape for k, v in net._collect_params_with_prefix().items()}
    others = {k: v.shape for k, v in volumetric._collect_params_with_prefix().items()}
    assert shapes.keys() == others.keys()
    differ = sorted(k for k in shapes if shapes[k] != others[k])
    assert differ and all("regmap" in k or "remap" in k for k in differ)
    assert shapes["blocks.0.regmap.conv.weight"][0] == (1 + C) * J
    x = mx.nd.random.uniform(shape=(2, 3, 64, 64))
    heat = {}
    block = net.blocks[-1]
    block.regmap.register_forward_hook(lambda b, i, o: heat.setdefault("last", o.asnumpy()))
    outs = dict(zip(net.output_names, net(x)))
    want, visible, _ = context_soft_argmax(heat["last"], J, C, 0.8)
    np.testing.assert_allclose(outs["pose2"].asnumpy(), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outs["visible2"].asnumpy(), visible, rtol=1e-4, atol=1e-6)
    multitask = get_model("softargmax_multitask_tiny", num_joints=J, context_maps=C, pose_dim=2)
    outs = multitask(mx.nd.random.uniform(shape=(1, 3, 4, 64, 64)))
    assert outs[-1].shape == (1, multitask.config.num_actions)
