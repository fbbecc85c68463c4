"""figures.py: skeletons, boxes and CAMs land on the right pixels; visualize.py draws the CAM
grid and the pose overlays of trained tiny models end to end."""
import logging
import os

import cv2
import mxnet as mx
import numpy as np
import pytest

import train_action
import visualize
from data.index import read_boxes, read_index
from data.keypoints import COCO_KEYPOINTS
from engine import systems
from engine.views import cam as views
from engine.views.figures import (
    BOX,
    COCO_SKELETON,
    LEFT,
    MIDDLE,
    RIGHT,
    blend_cam,
    draw_box,
    draw_pose,
    side_colour,
)
from helpers import config, overrides

K = len(COCO_KEYPOINTS)


def pose(**joints):
    """Keypoints (K, 3): the named joints at (x, y) with confidence 1, the rest hidden (0)."""
    kps = np.zeros((K, 3), np.float32)
    for name, (x, y) in joints.items():
        kps[COCO_KEYPOINTS.index(name)] = (x, y, 1)
    return kps


def test_joints_and_bones_land_on_their_pixels_in_their_side_colours():
    kps = pose(left_shoulder=(30, 40), left_elbow=(30, 70), right_shoulder=(70, 40),
               right_elbow=(70, 70))
    kps[COCO_KEYPOINTS.index("left_wrist")] = (30, 90, 0)  # hidden below the threshold
    image = draw_pose(np.zeros((100, 100, 3), np.uint8), kps, min_confidence=0.5, thickness=2)
    assert tuple(image[40, 30]) == LEFT and tuple(image[70, 30]) == LEFT  # joints (row y, col x)
    assert tuple(image[40, 70]) == RIGHT
    for y in range(46, 65):  # along the left upper arm, away from its joints' discs
        assert tuple(image[y, 30]) == LEFT, y
    assert tuple(image[55, 70]) == RIGHT  # the right upper arm
    assert tuple(image[40, 50]) == MIDDLE  # shoulder to shoulder
    assert tuple(image[82, 30]) == (0, 0, 0)  # no bone to the hidden wrist
    assert tuple(image[10, 10]) == (0, 0, 0) and tuple(image[55, 50]) == (0, 0, 0)
    # draw_pose draws on a copy; every joint drawn with min_confidence=None (hidden or not)
    blank = np.zeros((100, 100, 3), np.uint8)
    assert draw_pose(blank, kps)[90, 30].any() and not blank.any()


def test_skeleton_is_cocos_and_sides_follow_the_names():
    assert len(COCO_SKELETON) == 19 and all(a < K and b < K for a, b in COCO_SKELETON)
    assert side_colour((COCO_KEYPOINTS.index("left_knee"), COCO_KEYPOINTS.index("left_ankle"))) \
        == LEFT
    assert side_colour((0, COCO_KEYPOINTS.index("right_eye"))) == RIGHT  # nose to right eye
    assert side_colour((COCO_KEYPOINTS.index("left_hip"), COCO_KEYPOINTS.index("right_hip"))) \
        == MIDDLE


def test_box_outline_and_cam_colours():
    image = draw_box(np.zeros((60, 80, 3), np.uint8), (10, 20, 50, 40), thickness=1)
    assert tuple(image[20, 30]) == BOX and tuple(image[40, 10]) == BOX  # top edge, corner
    assert tuple(image[30, 30]) == (0, 0, 0)  # inside stays
    grey = np.full((4, 4, 3), 128, np.uint8)
    hot = blend_cam(grey, np.ones((4, 4)))[0, 0]
    cold = blend_cam(grey, np.zeros((4, 4)))[0, 0]
    assert hot[0] > hot[2] and cold[2] > cold[0]  # 1 red, 0 blue (JET)


@pytest.fixture(scope="module")
def trained(synth_work, tmp_path_factory):
    """One-epoch KPS RGBAction and random-crop models on the tiny synthetic set."""
    root = tmp_path_factory.mktemp("visualize")
    one = ("train.epochs=1", "train.batch_size=16", "train.lr_steps=[]")
    ckpts = {row: train_action.main(["--config", config(row)] + overrides(
        synth_work, str(root / row), *one)) for row in ("kps", "rgb_random_crop")}
    return synth_work, ckpts, root


def test_visualize_draws_the_cam_grid_and_the_pose_overlays(trained, tmp_path):
    work, ckpts, _ = trained
    out = str(tmp_path / "figures")
    written = visualize.main(
        ["--config", config("rgb_random_crop"), "--config", config("kps"), "--checkpoint",
         ckpts["rgb_random_crop"], "--checkpoint", ckpts["kps"], "--videos",
         "a01_s01_e01_v03,a02_s01_e01_v03", "--out", out] + overrides(work, out)[:3] +
        ["data.clip_len=4"])
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["cam_a01_s01_e01_v03.png", "cam_a02_s01_e01_v03.png",
                     "pose_a01_s01_e01_v03.png", "pose_a02_s01_e01_v03.png"]
    for path in written:
        image = cv2.imread(path)
        assert image is not None and min(image.shape[:2]) > 200


def test_visualize_names_an_unknown_video(trained, tmp_path):
    work, ckpts, _ = trained
    with pytest.raises(SystemExit, match="has no video 'nope'"):
        visualize.main(["--config", config("kps"), "--checkpoint", ckpts["kps"], "--videos",
                        "nope", "--out", str(tmp_path)] + overrides(work, str(tmp_path))[:3] +
                       ["data.clip_len=4"])


def test_keypoints_go_back_from_crop_to_frame():
    crop_box = np.array([10.0, 20.0, 74.0, 84.0])
    kps = np.array([[[-0.5, -0.5, 1.0], [31.5, 31.5, 0.5]]], np.float32)
    frame = views.crop_keypoints_to_frame(kps, crop_box, 32)
    np.testing.assert_allclose(frame[0, :, :2], [[10, 20], [74, 84]], atol=1e-4)
    assert list(frame[0, :, 2]) == [1.0, 0.5]


def test_visualize_is_an_entry_script(capsys):
    with pytest.raises(SystemExit) as exit_info:
        visualize.parse_args(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


def test_cam_mass_of_a_synthetic_video(trained):
    """The person-crop model's crop leaves the scene object out (the benchmark puts it outside
    the person's square crop): its object share is 0. The random-crop model's centre square of
    the frame holds this video's object, so some of its mass can fall there."""
    work, ckpts, root = trained
    shares = {}
    for row in ("rgb_random_crop", "kps"):
        cfg, net, _ = systems.load_model(config(row), ckpts[row], overrides(
            work, str(root / row))[:3] + ["data.clip_len=4"], mx.cpu(), logging.getLogger())
        sample = [s for s in read_index(cfg["data"]["prepared"]) if s["view"] == 3][0]
        boxes = read_boxes(cfg["data"]["boxes"])[0]
        shares[row] = views.video_cam_mass(cfg, net, sample, boxes)
        assert all(0 <= v <= 1 for v in shares[row]), shares
    assert shares["kps"][1] == 0 and shares["kps"][0] > 0
    assert shares["rgb_random_crop"][1] > 0


def test_cam_mass_of_videos_is_the_per_video_shares_averaged(trained):
    """The demo's table: for the ground-truth class the mean of ``video_cam_mass`` over the
    videos; for the predicted class the same with the RGB head's own arg-max (the network's
    forward pass, not the CAM path); the uniform map's shares are the boxes' areas."""
    from symbols.cam import cam_mass
    work, ckpts, root = trained
    cfg, net, _ = systems.load_model(config("rgb_random_crop"), ckpts["rgb_random_crop"],
                                       overrides(work, str(root / "rgb_random_crop"))[:3] +
                                       ["data.clip_len=4"], mx.cpu(), logging.getLogger())
    samples = [s for s in read_index(cfg["data"]["prepared"]) if s["view"] == 3][:2]
    table = views.cam_mass_of_videos(cfg, net, samples)
    gt = np.array([views.video_cam_mass(cfg, net, s) for s in samples])
    pred = []
    for s in samples:
        view = views.centre_view(cfg, s)
        cls = int(net(mx.nd.array(view["clip"][None]))[0].asnumpy().argmax())
        pred.append(views.video_cam_mass(cfg, net, s, cls=cls))
    pred = np.array(pred)
    np.testing.assert_allclose([table["gt"]["person"], table["gt"]["object"]], gt.mean(0))
    np.testing.assert_allclose([table["pred"]["person"], table["pred"]["object"]],
                               pred.mean(0), rtol=1e-6)
    area = []
    for s in samples:
        view = views.centre_view(cfg, s)
        ann = np.load(f"{cfg['data']['prepared']}/annotations/{s['id']}.npz")
        S = cfg["data"]["size"]
        person = views.box_in_crop(ann["boxes"][view["indices"]], view["crop_box"], S)
        obj = views.box_in_crop(ann["object_box"], view["crop_box"], S)
        area.append(cam_mass(np.ones((len(person), S, S)), person, obj))
    np.testing.assert_allclose([table["uniform"]["person"], table["uniform"]["object"]],
                               np.mean(area, axis=0))
    assert table["gt"]["total"] == 2
