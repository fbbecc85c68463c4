"""The composed model: gradient flow, export, learning on a small batch, config errors."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from data.pose_targets import encode_clip
from symbols import get_model, model_config
from symbols.action_machine import ActionMachineLoss


def batch(net, n=4, seed=0):
    """Random clips with labels and pose targets for the tiny model."""
    c = net.config
    rng = np.random.RandomState(seed)
    clips = mx.nd.array(rng.uniform(-1, 1, (n, 3, c.num_frames, c.input_size, c.input_size)))
    label = mx.nd.array(np.arange(n) % c.num_classes)
    kps = rng.uniform(0, c.input_size - 1, (n, c.num_frames, c.num_keypoints, 3))
    kps[..., 2] = 1
    hm = c.input_size // net.stride
    targets = [encode_clip(k, (hm, hm), net.stride, net.radius) for k in kps]
    ht, ot, w = (mx.nd.array(np.stack(p)) for p in zip(*targets))
    return clips, label, ht, ot, w


def grads(params):
    return {n: p.grad().asnumpy().copy() for n, p in params.items() if p.grad_req != "null"}


def test_pose_action_loss_stops_at_the_argmax():
    # Hybridized, as training runs: imperatively, a pose-only loss with a trainable backbone
    # hits an MXNet 1.9 oneDNN crash (see symbols/pose_decoder.py).
    net = get_model("action_machine_tiny")
    net.hybridize()
    clips, label, *_ = batch(net)
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    # Sanity: the RGB loss does reach the backbone, so zeros below are not vacuous.
    with autograd.record():
        rgb, heat, offsets, pose = net(clips)
        loss = ce(rgb, label) + ce(pose, label) + heat.mean() + offsets.mean()
    loss.backward()
    assert any(np.abs(g).sum() > 0 for g in grads(net.backbone.collect_params()).values())
    assert any(np.abs(g).sum() > 0 for g in grads(net.pose_head.collect_params()).values())
    net.collect_params().zero_grad()
    with autograd.record():
        _, _, _, pose = net(clips)
        loss = ce(pose, label)
    loss.backward()
    for part in (net.backbone, net.pose_head):
        for name, g in grads(part.collect_params()).items():
            assert np.abs(g).sum() == 0, name
    assert all(np.abs(g).sum() > 0 for n, g in grads(net.pose_cnn.collect_params()).items()
               if n.endswith("weight"))


def test_a_soft_argmax_decoder_lets_the_pose_action_loss_reach_the_pose_head():
    """model.options.decoder=softargmax (beyond the paper): the same pose-CNN-only loss that
    stops at the arg-max above now trains the pose head and the backbone."""
    net = get_model("action_machine_tiny", decoder="softargmax")
    net.hybridize()
    clips, label, *_ = batch(net)
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        _, heat, _, pose = net(clips)
        loss = ce(pose, label)
    loss.backward()
    for part in (net.backbone, net.pose_head):
        assert any(np.abs(g).sum() > 0 for g in grads(part.collect_params()).values())
    # The keypoints the pose CNN reads are the soft-argmax of the heat maps, in [0, 1] of the crop.
    from symbols.softargmax import soft_argmax_keypoints
    expected = soft_argmax_keypoints(heat.asnumpy(), net.stride, (net.input_size,) * 2, "relu")
    got = net.decoder(heat).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="decoder is argmax or softargmax"):
        get_model("action_machine_tiny", decoder="mean")


def test_hybridized_export_reloads_with_identical_outputs(tmp_path):
    net = get_model("action_machine_tiny")
    net.hybridize(static_alloc=True, static_shape=True)
    clips = batch(net, n=2)[0]
    expected = [o.asnumpy() for o in net(clips)]
    prefix = str(tmp_path / "am")
    net.export(prefix, epoch=0)
    loaded = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
    outs = loaded(clips)
    assert len(outs) == len(expected) == 4
    for got, want in zip(outs, expected):
        np.testing.assert_array_equal(got.asnumpy(), want)


def test_tiny_model_learns_a_small_batch():
    net = get_model("action_machine_tiny", dropout=0.0)
    clips, label, ht, ot, w = batch(net, n=4)
    criterion = ActionMachineLoss(net.config.heads)
    trainer = gluon.Trainer(net.collect_params(), "sgd", dict(
        learning_rate=0.05, momentum=0.9, wd=1e-4, clip_gradient=2))
    losses = []
    for _ in range(30):
        with autograd.record():
            outs = dict(zip(net.output_names, net(clips)))
            total, parts = criterion(outs, label, ht, ot, w)
        total.backward()
        trainer.step(clips.shape[0])
        losses.append({k: float(v.mean().asscalar()) for k, v in parts.items()})
    assert np.isfinite([l["rgb"] for l in losses]).all()
    for part in ("rgb", "kps", "pose"):
        assert losses[-1][part] < 0.6 * losses[0][part], (part, losses[0], losses[-1])


def test_loss_needs_pose_targets_when_the_pose_head_is_on():
    net = get_model("kps_i3d_tiny")
    clips, label, *_ = batch(net)
    outs = dict(zip(net.output_names, net(clips)))
    with pytest.raises(ValueError, match="pose targets"):
        ActionMachineLoss(net.config.heads)(outs, label)


@pytest.mark.parametrize("name,overrides,message", [
    ("action_machine_tiny", {"dropuot": 0.1}, "unknown model option 'dropuot'"),
    ("action_machine_r34", {}, "unknown model 'action_machine_r34'"),
    ("action_machine_tiny", {"heads": ("rgb", "pose")}, "add 'kps'"),
    ("action_machine_tiny", {"heads": ("rgb", "flow")}, "unknown head 'flow'"),
    ("action_machine_tiny", {"depth": 42}, "resnet depth 42"),
])
def test_bad_configs_are_clear_errors(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        get_model(name, **overrides)


def test_config_round_trips_through_overrides():
    c = model_config("action_machine_r50", num_classes=10, layers=[1, 1, 1, 1])
    assert c.num_classes == 10 and c.layers == (1, 1, 1, 1) and c.pose_cnn_depth == 50
    assert c.heads == ("rgb", "kps", "pose")


def test_inference_batch_norm_on_5d_gives_the_same_outputs():
    """bn_fold_time=False (plain 5D batch norm, faster for inference) shares parameter names and
    outputs with the trainable 4D-view variant."""
    trained = get_model("action_machine_tiny")
    fast = get_model("action_machine_tiny", bn_fold_time=False)
    src = trained._collect_params_with_prefix()
    for name, param in fast._collect_params_with_prefix().items():
        param.set_data(src[name].data())  # a KeyError here would mean the names differ
    clips = batch(trained, n=2)[0]
    for a, b in zip(trained(clips), fast(clips)):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-6)


def test_subsampled_shortcut_gives_the_strided_projection_outputs():
    """shortcut="subsample" (the inference networks') computes each stride-2 1x1x1 projection as
    every second position then a stride-1 convolution: same parameter names, same outputs; the
    projection itself checked against NumPy on a hand-sized map."""
    from symbols.resnet import SubsampledConv3D
    conv = SubsampledConv3D(3, 2, 4)
    conv.initialize()
    x = np.random.RandomState(0).standard_normal((1, 4, 2, 5, 5)).astype(np.float32)
    w = conv.weight.data().asnumpy()[:, :, 0, 0, 0]
    expected = np.einsum("oc,nctij->notij", w, x[:, :, :, ::2, ::2])
    np.testing.assert_allclose(conv(mx.nd.array(x)).asnumpy(), expected, rtol=1e-5, atol=1e-6)

    strided = get_model("action_machine_tiny", bn_fold_time=False)
    fast = get_model("action_machine_tiny", bn_fold_time=False, shortcut="subsample")
    assert any(isinstance(b, SubsampledConv3D) for b in _blocks(fast))
    assert not any(isinstance(b, SubsampledConv3D) for b in _blocks(strided))
    # the graph's node names too (int8 thresholds are cached by them)
    assert ([k[len(fast.prefix):] for k in fast.collect_params()] ==
            [k[len(strided.prefix):] for k in strided.collect_params()])
    src = strided._collect_params_with_prefix()
    for name, param in fast._collect_params_with_prefix().items():
        param.set_data(src[name].data())
    clips = batch(strided, n=2)[0]
    for a, b in zip(strided(clips), fast(clips)):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="shortcut"):
        get_model("action_machine_tiny", shortcut="sliced")


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)
