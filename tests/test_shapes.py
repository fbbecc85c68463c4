"""Shape contracts of the networks, at the paper's sizes and over tiny variants."""
import itertools

import mxnet as mx
import pytest

from symbols import get_model
from symbols.i3d import i3d_resnet
from symbols.pose_cnn import PoseCNN
from symbols.pose_head import PoseHead


def test_i3d_resnet50_maps_paper_clip_to_2048x8x7x7():
    net = i3d_resnet(50)
    net.initialize()
    out = net(mx.nd.random.uniform(shape=(1, 3, 8, 224, 224)))
    assert out.shape == (1, 2048, 8, 7, 7)


def test_pose_head_gives_8_frames_of_3x17_maps_at_28x28():
    head = PoseHead(2048, num_keypoints=17)
    head.initialize()
    heat, offsets = head(mx.nd.random.uniform(shape=(2, 2048, 8, 7, 7)))
    assert heat.shape == (2, 8, 17, 28, 28)
    assert offsets.shape == (2, 8, 17, 2, 28, 28)


def test_pose_head_keeps_frames_apart():
    """Frame t of the output depends on frame t of the input only (shared per-frame head)."""
    head = PoseHead(16, num_keypoints=3, deconv_filters=8)
    head.initialize()
    x = mx.nd.random.uniform(shape=(2, 16, 3, 4, 4))
    heat, _ = head(x)
    x2 = x.copy()
    x2[1, :, 2] = 0  # change sample 1, frame 2 only
    heat2, _ = head(x2)
    changed = (heat - heat2).abs().sum(axis=(2, 3, 4)).asnumpy() > 0
    assert changed.tolist() == [[False, False, False], [False, False, True]]


@pytest.mark.parametrize("depth", [18, 50])
def test_pose_cnn_takes_3x8x17(depth):
    net = PoseCNN(num_classes=60, depth=depth)
    net.initialize()
    assert net(mx.nd.random.uniform(shape=(2, 3, 8, 17))).shape == (2, 60)



def test_pose_cnn_classifies_the_mean_of_its_maps_over_time_and_joints():
    """The logits are the FC layer of the ResNet's maps averaged over T and K (numpy), in the
    hybridized graph, and the gradient reaches the input through that average."""
    net = PoseCNN(num_classes=5, depth=18, layers=(1, 1, 1, 1), base_width=4, dropout=0.0)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    x = mx.nd.random.uniform(shape=(3, 3, 8, 17))
    maps = net.resnet(x).asnumpy()
    w, b = net.fc.weight.data().asnumpy(), net.fc.bias.data().asnumpy()
    expected = maps.mean(axis=(2, 3)) @ w.T + b
    assert abs(net(x).asnumpy() - expected).max() < 1e-4
    x.attach_grad()
    with mx.autograd.record():
        y = net(x)
    y.backward()
    assert abs(x.grad.asnumpy()).sum() > 0

@pytest.mark.parametrize("frames,size,heads", list(itertools.product(
    [4, 8], [64, 96], [("rgb",), ("rgb", "kps"), ("rgb", "kps", "pose")])))
def test_action_machine_outputs(frames, size, heads):
    net = get_model("action_machine_tiny", num_frames=frames, input_size=size, heads=heads)
    outs = net(mx.nd.random.uniform(shape=(2, 3, frames, size, size)))
    expected = {"rgb": (2, 10), "heatmaps": (2, frames, 17, size // 8, size // 8),
                "offsets": (2, frames, 17, 2, size // 8, size // 8), "pose": (2, 10)}
    assert [o.shape for o in outs] == [expected[n] for n in net.output_names]


def test_paper_size_action_machine_r50_outputs():
    net = get_model("action_machine_r50")
    outs = dict(zip(net.output_names, net(mx.nd.random.uniform(shape=(1, 3, 8, 224, 224)))))
    assert outs["rgb"].shape == (1, 60) and outs["pose"].shape == (1, 60)
    assert outs["heatmaps"].shape == (1, 8, 17, 28, 28)
    assert net.pose_cnn.resnet.out_channels == 2048
