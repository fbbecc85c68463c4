"""engine/stages/published_pose.py and pseudo_poses.py --pose-model: a GluonCV simple_pose model (random
weights of the real architecture, saved as a .params file: no download) labels videos, decoded as
GluonCV's own get_final_preds decodes; the decoder and the flip on hand examples."""
import os

import cv2
import mxnet as mx
import numpy as np
import pytest

import pseudo_poses
from data.index import read_index, read_poses
from engine.stages import published_pose as P
from symbols import family_of, get_model
from symbols.published_pose import model_name


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from gluoncv import model_zoo
    mx.random.seed(3)
    net = model_zoo.get_model("simple_pose_resnet18_v1b", pretrained=False,
                              pretrained_base=False)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 256, 192)))  # shapes are known after a first pass
    path = str(tmp_path_factory.mktemp("weights") / "sp18.params")
    net.save_parameters(path)
    return path


def test_decode_by_hand():
    heat = np.full((1, 3, 8, 6), -1.0)
    heat[0, 0, 3, 2], heat[0, 0, 3, 3], heat[0, 0, 3, 1] = 5.0, 2.0, 1.0  # right higher: +1/4
    heat[0, 0, 2, 2] = heat[0, 0, 4, 2] = 1.0  # up and down equal: no shift in y
    heat[0, 1, 6, 1] = 4.0  # column 1: too near the edge for a shift (GluonCV: 1 < px)
    heat[0, 1, 6, 2] = 3.0
    got = P.decode(heat, stride=4)
    np.testing.assert_allclose(got[0, 0], [(2 + 0.25) * 4, 3 * 4, 5.0])
    np.testing.assert_allclose(got[0, 1], [1 * 4, 6 * 4, 4.0])
    np.testing.assert_allclose(got[0, 2], [0, 0, -1.0])  # no positive peak: masked at 0, 0


def test_flip_back_mirrors_swaps_and_shifts_a_column():
    W = 6
    mirrored = np.zeros((1, 17, 4, W))
    mirrored[0, 6, 2, W - 1 - 1] = 1.0  # the right shoulder of the mirrored input at column 4
    back = P.flip_back(mirrored)
    assert back[0, 5, 2].argmax() == 1 + 1 and back[0, 6].max() == 0  # left shoulder, col 1+1


def test_model_names_are_checked():
    assert model_name("gluoncv:simple_pose_resnet50_v1b") == "simple_pose_resnet50_v1b"
    with pytest.raises(ValueError, match="gluoncv:NAME with a simple_pose model"):
        model_name("gluoncv:yolo3_darknet53_coco")


def test_one_registry_names_every_kind_of_network():
    assert family_of("action_machine_tiny") == "action_machine"
    assert family_of("softargmax_multitask_tiny") == "multitask"
    assert family_of("pose_tiny") == "pose"
    assert family_of("dcn_rfcn_tiny") == "detector"
    assert family_of("gluoncv:simple_pose_resnet18_v1b") == "published_pose"
    assert family_of("gluoncv:yolo3_darknet53_coco") == "detector"  # any GluonCV detector
    with pytest.raises(ValueError, match="unknown model 'no_such_net'"):
        family_of("no_such_net")


def test_labels_equal_gluoncvs_own_decoding(weights):
    from gluoncv.data.transforms.pose import get_affine_transform, get_final_preds
    net = get_model("gluoncv:simple_pose_resnet18_v1b", ctx=mx.cpu(), weights=weights)
    rng = np.random.RandomState(0)
    frames = rng.randint(0, 256, (2, 120, 160, 3)).astype(np.uint8)
    box = [40.0, 10.0, 90.0, 110.0]
    got = P.label_video(net, frames, box, mx.cpu(), flip=False)
    # GluonCV's way: the box enlarged 1.25 and made 3:4, its warp, its decoding and map back
    x1, y1, x2, y2 = box
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * 1.25, (y2 - y1) * 1.25
    w = max(w, h * 192 / 256)
    scale = np.array([w, w * 256 / 192])
    trans = get_affine_transform(center, scale, 0, [192, 256])
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    crops = [(cv2.warpAffine(f, trans, (192, 256), flags=cv2.INTER_LINEAR) / 255.0 - mean) / std
             for f in frames]
    x = mx.nd.array(np.stack(crops).transpose(0, 3, 1, 2))
    preds, maxvals = get_final_preds(net(x), [center] * 2, [scale] * 2)
    np.testing.assert_allclose(got[..., :2], preds.asnumpy(), atol=1e-2)
    np.testing.assert_allclose(got[..., 2], maxvals.asnumpy()[..., 0], rtol=1e-4)


def test_pseudo_poses_with_a_published_model(synth_work, weights, tmp_path):
    out = str(tmp_path / "poses")
    prepared = os.path.join(synth_work, "prepared")
    pseudo_poses.main(["--pose-model", "gluoncv:simple_pose_resnet18_v1b", "--weights", weights,
                       "--prepared", prepared, "--boxes", os.path.join(synth_work, "boxes.json"),
                       "--out", out, "--shard", "1/10", "--no-flip"])  # 2 of the 20 videos
    labelled = read_index(prepared)[::10]
    for s in labelled:
        kps = read_poses(out, s["id"])
        assert kps.shape == (s["frames"], 17, 3) and np.isfinite(kps).all()
    assert sorted(f[:-4] for f in os.listdir(out) if f.endswith(".npy")) == \
        sorted(s["id"] for s in labelled)


def test_a_published_model_with_wrong_weights_is_one_line(synth_work, tmp_path):
    bad = tmp_path / "bad.params"
    bad.write_bytes(b"not params")
    with pytest.raises(SystemExit, match=r"^error: --weights .*bad\.params: not the weights of "
                                         r"gluoncv:simple_pose_resnet18_v1b"):
        pseudo_poses.main(["--pose-model", "gluoncv:simple_pose_resnet18_v1b", "--weights",
                           str(bad), "--prepared", os.path.join(synth_work, "prepared"),
                           "--boxes", os.path.join(synth_work, "boxes.json"),
                           "--out", str(tmp_path / "p")])
