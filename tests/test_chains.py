"""Every documented chain of Luvizon et al.'s Tables 1-5 (docs/second_system.md, docs/paper.md),
run as documented on tiny copies of the real datasets written in their release formats: the
pose configs train (train_pose.py) and are scored (eval_pose.py --config); the action rows train
their separate stage from the pose run's final.params, fine-tune from the separate run's and are
tested single- and multi-clip (eval_action.py). The configs' own paths (work/..., runs/) and
their train.init_from templates connect the stages: the only overrides are sizes (crop size,
width, clip length, epochs, batch) and the worker count."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from test_ntu_skeleton import ID_A, write
from test_penn import write_label
from test_penn_action import write_frames
from test_pose_images import fake_h36m, fake_mpii

import eval_action
import eval_pose
import train_action
import train_pose
from engine.config import POSE_BASE, config_path, load_config
from data.prepare import prepare
from data.video import write_video
from helpers import ROOT
from tools import figure7

POSE_SIZES = ["data.input_size=[64, 64]", "model.options.width=0.125", "train.epochs=1",
              "train.batch_size=4", "eval.batch_size=4", "data.workers=0"]
ACTION_SIZES = ["data.size=64", "data.clip_len=4", "model.options.width=0.125",
                "model.options.pose_action_filters=[2, 4, 6, 8, 4, 8]",
                "model.options.appearance_action_filters=8", "model.options.action_blocks=2",
                "train.epochs=1", "data.workers=0"]
# Human3.6M's training videos, four frames each at the configs' data.frame_step 5
H36M_TRAIN = [(s, seq, cam, f) for s, seq, cam in ((1, "Directions_1", "54138969"),
                                                   (5, "Eating", "55011271"),
                                                   (1, "Posing", "58860488"),
                                                   (5, "Walking", "54138969"))
              for f in (1, 6, 11, 16)]
# Penn Action: (sequence, train flag, frames, action); NTU xsub: performers 1, 2 train, 3 tests
PENN = [("0001", 1, 6, "bowl"), ("0002", 1, 6, "squat"), ("0003", 1, 6, "bowl"),
        ("0004", -1, 6, "squat")]
NTU = ["S001C001P001R001A001", "S001C001P002R001A002", "S001C002P001R001A002",
       "S001C001P003R001A001"]


def config(name):
    return os.path.join(ROOT, "configs", name)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder laid out as the configs expect (work/{mpii,h36m,penn,ntu}), the action datasets
    prepared by the documented commands' functions; the tests run inside it."""
    root = tmp_path_factory.mktemp("chains")
    w = root / "work"
    fake_mpii(str(w / "mpii"), train=8, valid=3)
    fake_h36m(str(w / "h36m"), train=H36M_TRAIN)
    for k, (video, train, frames, action) in enumerate(PENN):
        write_label(str(w / "penn" / "labels"), video, frames=frames, train=train, action=action,
                    seed=k)
        write_frames(str(w / "penn"), video, frames, seed=k)
    rgb, skeletons = w / "ntu" / "nturgb+d_rgb", w / "ntu" / "nturgb+d_skeletons"
    rgb.mkdir(parents=True)
    skeletons.mkdir(parents=True)
    frames = np.random.RandomState(0).randint(0, 255, (6, 54, 96, 3)).astype(np.uint8)
    for stem in NTU:
        write_video(str(rgb / f"{stem}_rgb.avi"), frames, 30)
        write(skeletons / f"{stem}.skeleton", [[(ID_A, 1)]] * 6)
    # python -m data.prepare --dataset penn_action --raw work/penn --out work/penn/prepared
    prepare("penn_action", str(w / "penn"), str(w / "penn" / "prepared"), workers=1,
            progress=False)
    # python -m data.prepare --dataset ntu --raw work/ntu/nturgb+d_rgb --out work/ntu/prepared
    #     --skeletons work/ntu/nturgb+d_skeletons
    prepare("ntu", str(rgb), str(w / "ntu" / "prepared"), workers=1, progress=False,
            skeletons=str(skeletons))
    return root


@pytest.fixture(autouse=True)
def inside(work, monkeypatch):
    monkeypatch.chdir(work)


def pose_chain(name, *extra):
    """make train-pose POSE_CONFIG=configs/pose/NAME.yaml, then eval_pose.py --config."""
    path = config(f"pose/{name}.yaml")
    final = train_pose.main(["--config", path, *POSE_SIZES])
    assert final == os.path.join("runs", name, "final.params") and os.path.isfile(final)
    return eval_pose.main(["--config", path, *POSE_SIZES, *extra])


def action(script, name, *extra):
    return script.main(["--config", config_path(name), *ACTION_SIZES, *extra])


def finite(values):
    return all(np.isfinite(v) for v in values if v is not None)


@pytest.mark.parametrize("name, multi_crop", [("mpii_h36m_softargmax", True),
                                              ("h36m_softargmax", True),
                                              ("mpii_softargmax", False)])
def test_the_pose_tables_train_and_score_as_documented(name, multi_crop):
    """Tables 1, 6 (Human3.6M MPJPE per action, SC and MC) and Table 2 (MPII PCKh)."""
    result = pose_chain(name)
    if load_config(config(f"pose/{name}.yaml"), base=POSE_BASE)["model"]["options"].get(
            "context_maps"):
        assert os.path.isfile(os.path.join("runs", name, "pose_pred_mpii.npy"))
        assert 0 <= result["mean"]["PCKh@0.5"] <= 100
    else:
        assert os.path.isfile(os.path.join("runs", name, "pose_pred_h36m.npy"))
        assert finite([a["MPJPE"] for a in result["actions"].values()])
    if multi_crop:
        result = eval_pose.main(["--config", config(f"pose/{name}.yaml"), *POSE_SIZES,
                                 "eval.crops=5", "eval.flip=true"])
        assert result["crops"] == 5
    figure7_of(name)


def figure7_of(name):
    """Figure 7 of a pose run (docs/second_system.md): Human3.6M's camera mm, MPII's volume;
    the 2D models (Table 2's, Table 3's pose part) are refused with one line."""
    args = ["--config", config(f"pose/{name}.yaml"), *POSE_SIZES, "--frames", "2", "--out",
            f"figure7_{name}.png"]
    if load_config(config(f"pose/{name}.yaml"), base=POSE_BASE)["model"]["options"].get(
            "context_maps"):
        with pytest.raises(SystemExit, match="^error: model.options.context_maps: the 2D"):
            figure7.main(args)
        return
    figure7.main(args)
    assert os.path.getsize(f"figure7_{name}.png") > 5000


@pytest.mark.parametrize("pose, dataset, rows", [
    ("mpii_penn_softargmax", "penn_action_official",
     ["penn_action_official_softargmax_annotated", "penn_action_official_softargmax_joint"]),
    ("mpii_h36m_ntu_softargmax", "ntu_xsub", ["ntu_xsub_softargmax_kinect"]),
])
def test_the_action_tables_chain_from_their_pose_run(pose, dataset, rows):
    """Table 3 (Penn Action) and Tables 4-5 (NTU): the pose part, scored on MPII; the separate
    run from it, the fine-tuned run from that, tested single- and multi-clip; the annotated
    (Kinect) poses row, and on Penn Action Table 3's joint-learning row, from the same pose
    run."""
    result = pose_chain(pose)
    assert 0 <= result["mean"]["PCKh@0.5"] <= 100
    figure7_of(pose)
    separate, finetuned = f"{dataset}_softargmax_separate", f"{dataset}_softargmax_finetuned"
    action(train_action, separate)
    # stage 1 froze the pose part: it is the documented pose run's, parameter for parameter
    trained = mx.nd.load(os.path.join("runs", separate, "final.params"))
    for key, value in mx.nd.load(os.path.join("runs", pose, "final.params")).items():
        assert np.array_equal(trained[key].asnumpy(), value.asnumpy()), key
    action(train_action, finetuned)
    for clips in ("single", "multi"):
        result = action(eval_action, finetuned, f"eval.multitask_clips={clips}")
        assert result["clips"] == clips and result["videos"] == result["test_videos"] >= 1
        assert set(result["top1"]) == {"pose", "appearance", "aggregation"}
    with open(os.path.join("runs", finetuned, "config.yaml")) as f:
        assert f"runs/{separate}/final.params" in f.read()
    for row in rows:
        action(train_action, row)
        result = action(eval_action, row)
        assert set(result["top1"]) == {"pose", "appearance", "aggregation"}
        if row.endswith("_joint"):  # the whole network trains, with the pose loss, from the start
            with open(os.path.join("runs", row, "metrics.jsonl")) as f:
                epoch = [json.loads(l) for l in f if '"kind": "epoch"' in l][-1]
            assert epoch["loss_pose"] > 0
            joint = mx.nd.load(os.path.join("runs", row, "final.params"))
            start = mx.nd.load(os.path.join("runs", pose, "final.params"))
            assert any(not np.array_equal(joint[k].asnumpy(), v.asnumpy())
                       for k, v in start.items())
        else:  # the annotated / Kinect row sees the annotation in all three places
            assert (result["pose_input"], result["attention_maps"], result["clip_box"]) == \
                ("annotated", "annotated", "joints")


def test_the_kinect_row_sees_the_annotation_where_the_estimated_row_sees_its_own_poses():
    """Table 5's "Kinect poses" against "Estimated poses" (76.4 against 80.1 in the appearance
    column): the Kinect row's appearance stream attends through maps of the Kinect joints and
    reads clips cropped from their box, so its appearance score differs from the estimated
    row's. The two rows are trained from one pose run with the aggregation's loss off, so the
    appearance stream learns from its own blocks alone: the control, the Kinect row with only
    its pose stream reading the skeleton (the attention and the crops estimated), gets the
    estimated row's appearance scores exactly, so the difference is what it sees."""
    runs = ["runs=runs_kinect", "train.multitask_loss_weights=[1.0, 0.0]"]
    train_pose.main(["--config", config("pose/mpii_h36m_ntu_softargmax.yaml"), *POSE_SIZES,
                     "runs=runs_kinect"])
    control = ["model.options.attention_maps=estimated", "eval.clip_box=predicted",
               "experiment=ntu_xsub_softargmax_kinect_control"]
    scores = []
    for row, extra in (("ntu_xsub_softargmax_separate", []), ("ntu_xsub_softargmax_kinect", []),
                       ("ntu_xsub_softargmax_kinect", control)):
        action(train_action, row, *runs, *extra)
        result = action(eval_action, row, *runs, *extra)
        with open(os.path.join("runs_kinect", result["experiment"], "per_video.jsonl")) as f:
            scores.append((result, [json.loads(line) for line in f]))
    (estimated, e), (kinect, k), (_, c) = scores
    assert (kinect["pose_input"], kinect["attention_maps"], kinect["clip_box"]) == \
        ("annotated", "annotated", "joints")
    assert (estimated["pose_input"], estimated["attention_maps"], estimated["clip_box"]) == \
        ("estimated", "estimated", "predicted")
    assert len(e) == len(k) == len(c) >= 1
    assert not np.allclose([v["p_label"]["appearance"] for v in k],
                           [v["p_label"]["appearance"] for v in e], rtol=1e-4, atol=0)
    assert [v["p_label"]["appearance"] for v in c] == [v["p_label"]["appearance"] for v in e]
    assert [v["p_label"]["pose"] for v in c] != [v["p_label"]["pose"] for v in e]
