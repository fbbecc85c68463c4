"""Inflation of 2D ResNet weights: identical frames give the 2D responses; names must match."""
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo.resnetv1b import BottleneckV1b, ResNetV1b
from mxnet.gluon import nn

from symbols import get_model
from symbols.i3d import i3d_resnet
from symbols.inflate import InflationError, inflate_into, inflate_weight, load_2d_params


def randomize_bn_stats(net):
    """Non-trivial batch-norm parameters, so that copying them matters."""
    for name, p in net._collect_params_with_prefix().items():
        if name.endswith(("gamma", "running_var")):
            p.set_data(mx.nd.random.uniform(0.5, 1.5, shape=p.shape))
        elif name.endswith(("beta", "running_mean")):
            p.set_data(mx.nd.random.normal(0, 0.2, shape=p.shape))


@pytest.fixture
def resnet2d_file(tmp_path):
    """A GluonCV ResNetV1b (one block per stage, ImageNet widths) saved as a local .params file,
    standing in for the model-zoo download."""
    net = ResNetV1b(BottleneckV1b, [1, 1, 1, 1])
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros((1, 3, 64, 64)))
    randomize_bn_stats(net)
    path = str(tmp_path / "resnet_v1b_tiny.params")
    net.save_parameters(path)
    return net, path


def features_2d(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def repeat_frames(image, frames):
    """(N, C, H, W) -> (N, C, T, H, W) with every frame the same image."""
    return mx.nd.repeat(image.expand_dims(2), frames, axis=2)


@pytest.mark.parametrize("kt", [3, 5])
def test_inflated_layer_matches_2d_where_padding_does_not_reach(kt):
    conv2d = nn.Conv2D(6, 3, padding=1, in_channels=4)
    conv3d = nn.Conv3D(6, (kt, 3, 3), padding=(kt // 2, 1, 1), in_channels=4)
    conv2d.initialize()
    conv3d.initialize()
    conv3d.weight.set_data(inflate_weight(conv2d.weight.data().asnumpy(), conv3d.weight.shape))
    conv3d.bias.set_data(conv2d.bias.data())
    image = mx.nd.random.uniform(shape=(2, 4, 10, 10))
    T = 9
    out3d = conv3d(repeat_frames(image, T)).asnumpy()
    out2d = conv2d(image).asnumpy()
    pad = kt // 2
    for t in range(pad, T - pad):
        np.testing.assert_allclose(out3d[:, :, t], out2d, rtol=1e-5, atol=1e-5)
    # Where the zero padding reaches, the response is (kt - pad)/kt of the 2D one's weight part.
    assert not np.allclose(out3d[:, :, 0], out2d, atol=1e-3)


def test_inflated_backbone_matches_2d_at_centre_frame(resnet2d_file):
    net2d, path = resnet2d_file
    net3d = i3d_resnet(50, layers=(1, 1, 1, 1))
    net3d.initialize()
    mapping = inflate_into(net3d, load_2d_params(path))
    # Every 2D parameter but the ImageNet classifier is used, each conv weight is inflated.
    params2d = net2d._collect_params_with_prefix()
    assert {row[0] for row in mapping} == {n for n in params2d if not n.startswith("fc.")}
    conv_weights = {n for n, p in params2d.items() if len(p.shape) == 4}
    assert {row[0] for row in mapping if row[3] == "inflated"} == conv_weights
    # Temporal reach: conv1 (5 -> 2 frames) + one 3x1x1 conv per block (4 blocks -> 4 frames).
    T = 13
    image = mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64))
    out3d = net3d(repeat_frames(image, T)).asnumpy()
    out2d = features_2d(net2d, image).asnumpy()
    assert out3d.shape[2] == T
    np.testing.assert_allclose(out3d[:, :, T // 2], out2d, rtol=1e-4, atol=1e-4)
    assert not np.allclose(out3d[:, :, 0], out2d, atol=1e-3)  # the padded edge does differ


def test_get_model_inflates_from_a_local_file(resnet2d_file):
    net2d, path = resnet2d_file
    net = get_model("i3d_tiny", pretrained=path, base_width=64)
    w2 = net2d.layer1[0].conv1.weight.data().asnumpy()  # (64, 64, 1, 1) -> (64, 64, 3, 1, 1)
    w3 = net.backbone.layer1[0].conv1.weight.data().asnumpy()
    np.testing.assert_allclose(w3, np.repeat(w2[:, :, None], 3, axis=2) / 3, rtol=1e-6)
    np.testing.assert_array_equal(net.backbone.bn1.running_var.data().asnumpy(),
                                  net2d.bn1.running_var.data().asnumpy())


def test_a_pose_model_checkpoint_gives_its_resnet(tmp_path):
    """A 2D pose model's final.params (PoseNet: backbone + pose head) inflates its backbone into
    the I3D of the same width, the 1-frame stem as a copy; its pose head is left out."""
    pose = get_model("pose_tiny", base_width=8)
    path = str(tmp_path / "final.params")
    pose.save_parameters(path)
    net = get_model("action_machine_tiny", pretrained=path, stem_temporal_kernel=1)
    np.testing.assert_array_equal(net.backbone.conv1.weight.data().asnumpy()[:, :, 0],
                                  pose.backbone.conv1.weight.data().asnumpy())
    w2 = pose.backbone.layer1[0].conv1.weight.data().asnumpy()  # 1x1 -> 3x1x1, / 3
    np.testing.assert_allclose(net.backbone.layer1[0].conv1.weight.data().asnumpy(),
                               np.repeat(w2[:, :, None], 3, axis=2) / 3, rtol=1e-6)
    assert not any(k.startswith("pose_head") for k in load_2d_params(path))
    with pytest.raises(InflationError, match="does not fit"):  # another width
        get_model("action_machine_tiny", pretrained=path, base_width=16)


def _resave(path, tmp_path, edit):
    params = mx.nd.load(path)
    edit(params)
    out = str(tmp_path / "edited.params")
    mx.nd.save(out, params)
    return out


@pytest.mark.parametrize("edit,message", [
    (lambda p: p.pop("layer2.0.conv2.weight"), "layer2.0.conv2.weight"),
    (lambda p: p.__setitem__("layer3.0.bn1.gamma", mx.nd.ones((7,))), "layer3.0.bn1.gamma"),
    (lambda p: p.__setitem__("layer5.0.conv1.weight", mx.nd.ones((1,))), "layer5.0.conv1.weight"),
])
def test_mismatched_file_is_an_error_naming_the_parameter(resnet2d_file, tmp_path, edit, message):
    _, path = resnet2d_file
    net3d = i3d_resnet(50, layers=(1, 1, 1, 1))
    net3d.initialize()
    before = net3d.conv1.weight.data().asnumpy()
    with pytest.raises(InflationError, match=message.replace(".", r"\.")):
        inflate_into(net3d, load_2d_params(_resave(path, tmp_path, edit)))
    np.testing.assert_array_equal(net3d.conv1.weight.data().asnumpy(), before)  # untouched


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InflationError, match="not found"):
        load_2d_params(str(tmp_path / "nope.params"))


def test_zoo_failure_tells_the_user_what_to_do(monkeypatch):
    import gluoncv.model_zoo

    def offline(name, pretrained=False, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr(gluoncv.model_zoo, "get_model", offline)
    with pytest.raises(InflationError, match="pass the file"):
        load_2d_params("gluoncv:resnet50_v1b")
