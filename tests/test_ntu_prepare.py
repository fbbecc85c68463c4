"""NTU ground truth for the multitask clips: ``data.prepare --skeletons`` writes each video's
per-frame pa20 joints, Kinect xyz and boxes from a .skeleton file written here in the authors'
layout (tests/test_ntu_skeleton.py), scaled from the 1920 x 1080 colour pixels to the resized
video; a rerun over an earlier preparation only adds the annotations. A video whose skeleton file
is missing or unusable stays in the index (the protocols' test sets keep every video), listed in
no_annotation.csv: training leaves it out and logs the count; evaluation stops naming it, or with
--skip-unreadable scores the others "N of M"."""
import json
import logging
import os

import mxnet as mx
import numpy as np
import pytest

import eval_action
import train_action
from engine.config import config_path, load_config
from data.index import read_index, read_skipped, read_splits
from data.prepare import prepare
from data.video import write_video
from symbols import get_model
from test_ntu_skeleton import ID_A, ID_B, joint_values, write

# pa20 joint k is Kinect joint KINECT_TO_PA20[k], by hand from the two orders with NTU's sides
# swapped (data/joints.py): pelvis <- spine_base 0, thorax <- spine_shoulder 20, neck 2, head 3,
# right_shoulder <- shoulder_left 4, left_shoulder <- shoulder_right 8, ...
KINECT_TO_PA20 = [0, 20, 2, 3, 4, 8, 5, 9, 6, 10, 7, 11, 12, 16, 13, 17, 14, 18, 15, 19]
SEPARATE = config_path("ntu_xsub_softargmax_separate")
# xsub: performers 1 and 2 train, 3 tests (data/ntu.py). WITHOUT has no skeleton file at all,
# GARBLED an unusable one; the others a body in every frame.
WITH, WITHOUT = "S001C001P001R001A001", "S001C002P002R001A002"
TRAIN_WITH, TEST_WITH, GARBLED = ("S001C001P002R001A003", "S001C001P003R001A001",
                                  "S001C002P003R001A002")
IDS = sorted([WITH, WITHOUT, TRAIN_WITH, TEST_WITH, GARBLED])


@pytest.fixture(scope="module")
def ntu(tmp_path_factory):
    """A tiny NTU copy: the videos, their skeleton folder (WITHOUT's file missing, GARBLED's not a
    skeleton file), prepared once without --skeletons and then again with them."""
    root = tmp_path_factory.mktemp("ntu")
    raw, skeletons, out = root / "rgb", root / "skeletons", str(root / "prepared")
    os.makedirs(raw)
    os.makedirs(skeletons)
    frames = np.random.RandomState(0).randint(0, 255, (3, 54, 96, 3)).astype(np.uint8)
    for stem in IDS:
        write_video(str(raw / f"{stem}_rgb.avi"), frames, 30)
    # body A (the first tracked: the one kept) in frame 1 only, body B in frames 1 and 3
    write(skeletons / f"{WITH}.skeleton", [[(ID_A, 1), (ID_B, 2)], [], [(ID_B, 2)]])
    for stem in (TRAIN_WITH, TEST_WITH):
        write(skeletons / f"{stem}.skeleton", [[(ID_A, 1)]] * 3)
    (skeletons / f"{GARBLED}.skeleton").write_text("3\n1\nnot a body line\n")
    first, _ = prepare("ntu", str(raw), out, workers=1, progress=False)  # no skeletons
    assert len(first) == 5 and not os.listdir(os.path.join(out, "annotations"))
    index, splits = read_index(out), read_splits(out)
    return raw, skeletons, out, index, splits


def no_annotation(out):
    return read_skipped(os.path.join(out, "no_annotation.csv"))


def test_skeletons_become_the_annotations(ntu, caplog):
    raw, skeletons, out, index, splits = ntu
    with caplog.at_level(logging.INFO, logger="prepare"):
        samples, skipped = prepare("ntu", str(raw), out, workers=1, progress=False,
                                   skeletons=str(skeletons))  # a rerun: adds the annotations
    # the videos without a usable skeleton file stay in the index and the protocols' splits
    assert read_index(out) == index and read_splits(out) == splits and not skipped
    assert sorted(os.listdir(os.path.join(out, "annotations"))) == [
        f"{i}.npz" for i in (WITH, TRAIN_WITH, TEST_WITH)]
    rows = no_annotation(out)
    assert [r[0] for r in rows] == [WITHOUT, GARBLED]  # in the index's (id) order
    assert rows[0][1] == f"no skeleton file {skeletons}/{WITHOUT}.skeleton"
    assert rows[1][1].startswith(f"{skeletons}/{GARBLED}.skeleton")  # the reader's complaint
    assert f"annotations for 3 of 5 videos; 2 listed in {out}/no_annotation.csv" in caplog.text
    samples = {s["id"]: s for s in samples}
    w, h = samples[WITH]["width"], samples[WITH]["height"]
    assert (w, h) == (454, 256)  # NTU's Table 2 size from a 16:9 video
    values = np.array([joint_values(1, 0, j) for j in range(25)])[KINECT_TO_PA20]
    u = (values[:, 5] + 0.5) * w / 1920 - 0.5  # colour pixels -> the resized video's
    v = (values[:, 6] + 0.5) * h / 1080 - 0.5
    with np.load(os.path.join(out, "annotations", f"{WITH}.npz")) as z:
        kps, xyz, boxes, layout = z["keypoints"], z["xyz"], z["boxes"], str(z["layout"])
    assert layout == "pa20" and kps.shape == (3, 20, 3) and xyz.shape == (3, 20, 3)
    assert np.allclose(kps[0, :, 0], u, atol=1e-3) and np.allclose(kps[0, :, 1], v, atol=1e-3)
    assert (kps[0, :, 2] == 1).all() and not kps[1:, :, 2].any()  # body A absent in 2 and 3
    assert np.allclose(xyz[0], 1000 * values[:, :3], atol=1e-2) and np.isnan(xyz[1:]).all()
    box = [u.min(), v.min(), u.max(), v.max()]
    assert np.allclose(boxes, [box] * 3, atol=1e-3)  # frames without the body: the nearest's


def test_a_first_preparation_with_skeletons_indexes_every_video_and_a_rerun_updates_the_list(
        ntu, tmp_path):
    raw, skeletons, _, index, splits = ntu
    out = str(tmp_path / "prepared")
    prepare("ntu", str(raw), out, workers=2, progress=False, skeletons=str(skeletons))
    strip = [dict(s, path=None, source=None) for s in index]  # the same, wherever written
    assert [dict(s, path=None, source=None) for s in read_index(out)] == strip
    assert read_splits(out) == splits
    assert [r[0] for r in no_annotation(out)] == [WITHOUT, GARBLED]
    # the missing file arrives: a rerun adds its annotation and the list says what is left
    write(skeletons / f"{WITHOUT}.skeleton", [[(ID_A, 1)]] * 3)
    try:
        prepare("ntu", str(raw), out, workers=1, progress=False, skeletons=str(skeletons))
    finally:
        os.remove(skeletons / f"{WITHOUT}.skeleton")
    assert [r[0] for r in no_annotation(out)] == [GARBLED]
    assert os.path.exists(os.path.join(out, "annotations", f"{WITHOUT}.npz"))
    kept = no_annotation(out)  # a rerun without --skeletons keeps the list and its reasons
    prepare("ntu", str(raw), out, workers=1, progress=False)
    assert no_annotation(out) == kept
    assert [dict(s, path=None, source=None) for s in read_index(out)] == strip


@pytest.fixture(scope="module")
def trained(ntu, tmp_path_factory):
    """One step of the tiny multitask model (stage 1, from an untrained pose part) on the copy
    prepared with --skeletons: 3 training videos, one without annotation."""
    raw, skeletons, out = ntu[:3]
    prepare("ntu", str(raw), out, workers=1, progress=False, skeletons=str(skeletons))
    runs = tmp_path_factory.mktemp("runs")
    pose = get_model("softargmax_pose_tiny", num_joints=20, input_size=64, ctx=[mx.cpu()])
    pose(mx.nd.zeros((1, 3, 64, 64)))
    pose.save_parameters(str(runs / "pose.params"))
    cfg = load_config(SEPARATE, [f"data.prepared={out}", f"runs={runs}", "data.size=64",
                                 "data.clip_len=4", "data.workers=0", "train.epochs=1",
                                 "model.name=softargmax_multitask_tiny",
                                 "model.options={num_joints: 20}",
                                 "data.val_share=0.0", "train.lr_schedule=step",  # 3 videos
                                 f"train.init_from={runs}/pose.params"])
    return cfg, train_action.run(cfg, [mx.cpu()])


def test_training_leaves_out_the_videos_without_annotation_and_logs_how_many(trained):
    cfg, _ = trained
    with open(os.path.join(cfg["out"], "train.log")) as f:
        text = f.read()
    prepared = cfg["data"]["prepared"]
    assert (f"left out 1 of 3 training videos without annotations: listed in "
            f"{prepared}/no_annotation.csv") in text
    assert "2 training samples" in text


def test_eval_stops_naming_a_test_video_without_annotation_or_scores_n_of_m(trained, tmp_path):
    cfg, final = trained
    cfg = dict(cfg, out=str(tmp_path / "eval"), eval=dict(cfg["eval"], checkpoint=final))
    with pytest.raises(SystemExit, match=f"test video {GARBLED} has no annotation"):
        eval_action.run(cfg, [mx.cpu()])
    result = eval_action.run(cfg, [mx.cpu()], skip_unreadable=True)
    assert (result["videos"], result["test_videos"]) == (1, 2)
    assert [s["id"] for s in result["skipped"]] == [GARBLED]
    assert "no annotation" in result["skipped"][0]["reason"]
    with open(os.path.join(cfg["out"], "results.md")) as f:
        assert "scored 1 of 2" in f.read()
    with open(os.path.join(cfg["out"], "results.json")) as f:
        assert json.load(f)["skipped"] == result["skipped"]
