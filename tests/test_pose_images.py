"""The real pose datasets as soft-argmax training items (data/multitask/pose_records.py,
pose_images.py): small files written here in each real format (MPII JSON + gt_valid.mat + JPEGs,
mmpose's Human3.6M npz + cameras.pkl, Penn Action labels/*.mat + frames, NTU .skeleton + colour
video), targets against hand computations, the per-step mixture's exact shares through training's
own loader, and train_pose / eval_pose --config on a fake MPII + Human3.6M mixture."""
import json
import os
import pickle

import cv2
import numpy as np
import pytest
from test_h36m import imgname
from test_mpii import write_gt_valid, write_json
from test_penn import write_label

import eval_pose
import train_pose
from engine.config import POSE_BASE, load_config
from data.joints import LAYOUTS
from data.multitask import pose_frames as PF
from data.multitask.pose_images import PoseImages, PoseMixture, pose_images
from data.multitask.pose_records import read_records
from data.video import write_video
from engine.training import loop as training
from helpers import ROOT

TINY = os.path.join(ROOT, "configs", "pose", "mpii_h36m_softargmax_tiny.yaml")
S = 64  # crop side; with margin 0.25 a 51.2-px box gives a 64-px window: 1 crop px per frame px
PA16, PA17, PA20 = (LAYOUTS[k] for k in ("pa16", "pa17", "pa20"))


def image(path, w=96, h=80, seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.random.RandomState(seed).randint(0, 255, (h, w, 3), np.uint8))


def mpii_entry(k):
    """A person whose 51.2-px box (scale 0.256) is centred at 1-based (41 + k, 31): its 64-px
    crop window starts at 0-based (8 + k, -2). Joint j at 1-based (20 + 3j + k, 10 + 3j);
    head_top (9) missing, as MPII writes it."""
    joints = [[20.0 + 3 * j + k, 10.0 + 3 * j] for j in range(16)]
    joints[9] = [-1.0, -1.0]
    return {"image": f"{k:09d}.jpg", "center": [41.0 + k, 31.0], "scale": 0.256,
            "joints": joints, "joints_vis": [0 if j == 9 else 1 for j in range(16)]}


def fake_mpii(root, train=4, valid=3):
    for k in range(max(train, valid)):
        image(os.path.join(root, "images", f"{k:09d}.jpg"), seed=k)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    write_json(os.path.join(root, "annotations", "train.json"),
               [mpii_entry(k) for k in range(train)])
    entries = [mpii_entry(k) for k in range(valid)]
    write_json(os.path.join(root, "annotations", "valid.json"), entries)
    joints = np.array([e["joints"] for e in entries])
    boxes = np.array([[[30.0 + k, 5.0], [50.0 + k, 25.0]] for k in range(valid)])
    write_gt_valid(os.path.join(root, "annotations", "gt_valid.mat"), joints,
                   np.array([e["joints_vis"] for e in entries]) > 0, boxes)
    return root


H36M_TRAIN = [(1, "Directions_1", "54138969", 1), (1, "Directions_1", "54138969", 2),
              (5, "Eating", "55011271", 1), (5, "Eating", "55011271", 3)]
H36M_TEST = [(9, "Directions_1", "54138969", 1), (9, "Directions_1", "54138969", 2),
             (11, "WalkingDog_1", "58860488", 65)]


def h36m_joints(n, seed):
    """2D joints in a 96x80 frame and 3D joints in metres (mmpose's unit), pelvis at 4 m."""
    rng = np.random.RandomState(seed)
    part = np.concatenate([rng.uniform(20, 60, (n, 17, 2)), np.ones((n, 17, 1))], -1)
    xyz = np.concatenate([rng.uniform(-0.8, 0.8, (n, 17, 2)), rng.uniform(3.5, 4.5, (n, 17, 1))],
                         -1)
    xyz[:, 0, 2] = 4.0
    return part, np.concatenate([xyz, np.ones((n, 17, 1))], -1)


def fake_h36m(root, train=H36M_TRAIN, test=H36M_TEST):
    """mmpose's Human3.6M files for the (subject, sequence, camera, frame) rows of each split."""
    folder = os.path.join(root, "annotation_body3d", "fps50")
    os.makedirs(folder, exist_ok=True)
    for name, rows, seed in (("h36m_train.npz", train, 1), ("h36m_test.npz", test, 2)):
        names = [imgname(*r) for r in rows]
        for i, n in enumerate(names):
            image(os.path.join(root, "images", n), seed=seed * 10 + i)
        part, S3 = h36m_joints(len(rows), seed)
        # scale 0.3072: the joints' box 200 x 0.3072 / 1.2 = 51.2 px, a 64-px crop window
        np.savez(os.path.join(folder, name), imgname=np.array(names), part=part, S=S3,
                 center=np.tile([[40.0, 30.0]], (len(rows), 1)), scale=np.full(len(rows), 0.3072))
    cameras = {(f"S{s}", c): {"R": np.eye(3), "T": np.zeros((3, 1)), "f": np.array([[50.0],
               [55.0]]), "c": np.array([[48.0], [40.0]]), "k": np.zeros((3, 1)),
               "p": np.zeros((2, 1)), "w": 96, "h": 80, "name": c, "id": c}
               for s in (1, 5, 9, 11) for c in ("54138969", "55011271", "58860488")}
    with open(os.path.join(root, "annotation_body3d", "cameras.pkl"), "wb") as f:
        pickle.dump(cameras, f)
    return root


def items(records, layout, **kwargs):
    """Training items without augmentation: the crop is the box's alone."""
    options = dict(size=S, scale=0.0, rotation=0.0, translation=0.0, flip=False)
    options.update(kwargs)
    ds = PoseImages(records, layout, "train", **options)
    return [ds[i] for i in range(len(ds))]


def grid(pixel):
    """Crop pixel -> soft-argmax target, by hand: (u - 3.5) / (64 - 8)."""
    return (np.asarray(pixel, float) - 3.5) / 56.0


def test_mpii_items_equal_the_hand_computation(tmp_path):
    root = fake_mpii(str(tmp_path / "mpii"))
    records = read_records("mpii", root, "train", "pa16")
    for k, (img, target, mask, vis) in enumerate(items(records, "pa16")):
        assert img.shape == (3, S, S)
        # 0-based joint j at (19 + 3j + k, 9 + 3j); the window starts at (8 + k, -2): crop
        # pixel = frame pixel - start - 0.5 (the window's edge is the crop's -0.5)
        for mpii_j, pa in ((6, "pelvis"), (0, "right_ankle"), (15, "left_wrist")):
            u, v = 19 + 3 * mpii_j + k - (8 + k) - 0.5, 9 + 3 * mpii_j + 2 - 0.5
            np.testing.assert_allclose(target[PA16.index(pa), :2], grid([u, v]), atol=1e-5)
        head = PA16.index("head_top")
        assert mask[head].tolist() == [0, 0, 0] and np.isnan(vis[head])
        others = [i for i in range(16) if i != head]
        assert (mask[others, :2] == 1).all() and (mask[:, 2] == 0).all()  # 2D: x, y alone
        assert np.isfinite(target).all()


def test_h36m_items_equal_the_hand_computation(tmp_path):
    root = fake_h36m(str(tmp_path / "h36m"))
    records = read_records("h36m", root, "train", "pa17")
    assert records["row"].tolist() == [0, 1, 2, 3]
    with np.load(os.path.join(root, "annotation_body3d", "fps50", "h36m_train.npz")) as z:
        part, S3 = z["part"], z["S"]
    for i, (img, target, mask, vis) in enumerate(items(records, "pa17")):
        # centre (40, 30), window 64 px from (8, -2)
        for h36m_j, pa in ((0, "pelvis"), (7, "spine"), (8, "thorax"), (9, "neck"),
                           (14, "right_shoulder"), (3, "right_ankle")):
            u, v = part[i, h36m_j, :2] - [8, -2] - 0.5
            z_target = 0.5 + 1000 * (S3[i, h36m_j, 2] - S3[i, 0, 2]) / 2000
            np.testing.assert_allclose(target[PA17.index(pa)], [*grid([u, v]), z_target],
                                       atol=1e-5)
        assert (mask == 1).all() and (vis == 1).all()  # every joint, all three coordinates


def test_h36m_train_frame_step_and_test_rows(tmp_path):
    root = fake_h36m(str(tmp_path / "h36m"))
    assert read_records("h36m", root, "train", "pa17", 2)["row"].tolist() == [0, 2, 3]
    test = read_records("h36m", root, "test", "pa17")
    assert test["row"].tolist() == [0, 2]  # S9/S11 frames 1 and 65: every 64th
    np.testing.assert_allclose(test["camera"], [[50, 55, 48, 40]] * 2)


def test_penn_items_mask_invisible_joints_and_depth(tmp_path):
    root = str(tmp_path / "penn")
    label = write_label(os.path.join(root, "labels"), "0001", frames=3)
    write_label(os.path.join(root, "labels"), "0002", frames=2, train=-1)
    for t in range(3):
        image(os.path.join(root, "frames", "0001", f"{t + 1:06d}.jpg"), w=481, h=272, seed=t)
    records = read_records("penn_action", root, "train", "pa16", frame_step=2)
    assert records["frame"].tolist() == [-1, -1] and records["row"].tolist() == [0, 2]
    for (img, target, mask, vis), t in zip(items(records, "pa16"), (0, 2)):
        x1, y1, x2, y2 = label["bbox"][t]  # 100 x 200: the window is 250 px about its centre
        side, cx, cy = 250.0, (x1 + x2) / 2, (y1 + y2) / 2
        for penn_j, pa in ((0, "head_top"), (12, "right_ankle")):
            uv = (np.array([label["x"][t, penn_j], label["y"][t, penn_j]]) -
                  [cx - side / 2, cy - side / 2]) * S / side - 0.5
            np.testing.assert_allclose(target[PA16.index(pa), :2], grid(uv), atol=1e-4)
            inside = np.all((uv >= -0.5) & (uv <= S - 0.5))  # outside: dropped from the loss
            assert mask[PA16.index(pa), 0] == (label["visibility"][t, penn_j] and inside)
        assert (mask[[PA16.index(n) for n in ("pelvis", "thorax", "neck")]] == 0).all()
        assert (mask[:, 2] == 0).all()


def ntu_joint(t, j):
    """x y z depthX depthY colorX colorY orientation (4) tracking state: joint j of frame t
    at colour (500 + 20j + 5t, 300 + 10j), depth 3 + 0.05j m; joint 11 not tracked."""
    return [0.1 * j, -0.1 * j, 3 + 0.05 * j, 200, 200, 500 + 20 * j + 5 * t, 300 + 10 * j,
            0, 0, 0, 1, 0 if j == 11 else 2]


def ntu_skeleton(path, frames):
    lines = [str(frames)]
    for t in range(frames):
        lines += ["1", "7 0 1 1 1 1 0 0.03 -0.2 2", "25"]
        lines += [" ".join(f"{v:.7g}" for v in ntu_joint(t, j)) for j in range(25)]
    path.write_text("\n".join(lines) + "\n")


def test_ntu_items_from_the_skeleton_and_the_colour_video(tmp_path):
    root = tmp_path / "ntu"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    stem = "S001C001P001R001A001"  # performer 1: xsub train
    ntu_skeleton(root / "nturgb+d_skeletons" / f"{stem}.skeleton", 2)
    ntu_skeleton(root / "nturgb+d_skeletons" / "S001C001P003R001A001.skeleton", 1)  # test side
    (root / "nturgb+d_rgb").mkdir()
    frames = np.random.RandomState(0).randint(0, 255, (2, 64, 96, 3), np.uint8)  # any size
    write_video(str(root / "nturgb+d_rgb" / f"{stem}_rgb.avi"), frames, 30)
    records = read_records("ntu", str(root), "train", "pa20")
    assert records["frame"].tolist() == [0, 1] and len(set(records["group"])) == 1
    for t, (img, target, mask, vis) in enumerate(items(records, "pa20")):
        # the 20 joints' box (Kinect 0, 2-20; 11, a hand, untracked): x 500 + 5t .. 900 + 5t,
        # y 300 .. 500; side 400 x 1.25 = 500 about the centre (700 + 5t, 400)
        start = np.array([450 + 5 * t, 150])
        for kinect_j, pa in ((0, "pelvis"), (4, "right_shoulder"), (8, "left_shoulder"),
                             (20, "thorax")):  # NTU's sides swapped (data.joints)
            uv = (np.array([500 + 20 * kinect_j + 5 * t, 300 + 10 * kinect_j]) - start) \
                * S / 500 - 0.5
            np.testing.assert_allclose(target[PA20.index(pa)],
                                       [*grid(uv), 0.5 + 50 * kinect_j / 2000], atol=1e-5)
        hand = PA20.index("left_hand")  # Kinect's HandRight (11), untracked, swapped
        assert mask[hand].tolist() == [0, 0, 0]
        assert (np.delete(mask, hand, axis=0) == 1).all()


def test_mixture_batches_hold_the_exact_shares_through_the_training_loader(tmp_path):
    mpii = read_records("mpii", fake_mpii(str(tmp_path / "mpii"), train=6), "train", "pa17")
    h36m = read_records("h36m", fake_h36m(str(tmp_path / "h36m")), "train", "pa17")
    cfg = load_config(TINY, ["train.batch_size=4", "data.workers=0"], base=POSE_BASE)
    for ratios, per_batch in (([50, 50], 2), ([75, 25], 3)):
        seen = []
        for run in range(2):
            mix = PoseMixture([PoseImages(mpii, "pa17", size=S), PoseImages(h36m, "pa17", size=S)],
                              ratios, 4, seed=cfg["train"]["seed"])
            assert len(mix) == 8  # 6 + 4 items, in whole batches of 4
            sources = []
            for epoch in (0, 1):
                for (img, target, mask, vis), _ in training.epoch_loader(
                        __import__("data.loader", fromlist=["Substitutes"]).Substitutes(mix),
                        cfg, epoch):
                    mask = mask.asnumpy()
                    is_mpii = mask[:, :, 2].sum(1) == 0  # MPII: no depth anywhere
                    assert (mask[is_mpii, PA17.index("spine")] == 0).all()  # MPII has no spine
                    # Human3.6M: every joint trains, but those the crop leaves out
                    vis = vis.asnumpy()
                    assert (mask[~is_mpii] == (vis[~is_mpii] == 1)[..., None]).all()
                    assert is_mpii.sum() == per_batch  # exact, every step
                    sources.append(is_mpii.tolist())
            seen.append(sources)
        assert seen[0] == seen[1]  # the same seed, the same draws


def run_cfg(tmp_path, *extra):
    fake_mpii(str(tmp_path / "mpii"))
    fake_h36m(str(tmp_path / "h36m"))
    return [f"data.mpii_root={tmp_path}/mpii", f"data.h36m_root={tmp_path}/h36m",
            f"out={tmp_path}/run", "data.workers=0", "train.batch_size=4", "eval.batch_size=4",
            "data.frame_step=1",
            *extra]


def test_train_pose_runs_a_tiny_model_on_a_fake_mpii_h36m_mixture(tmp_path):
    final = train_pose.main(["--config", TINY, *run_cfg(tmp_path, "train.epochs=1",
                                                         "data.val_share=0.5")])
    assert os.path.isfile(final)
    with open(tmp_path / "run" / "metrics.jsonl") as f:
        epochs = [json.loads(l) for l in f if '"kind": "epoch"' in l]
    assert len(epochs) == 1 and np.isfinite([epochs[0]["loss_pose"], epochs[0]["val_score"]]).all()
    # Human3.6M's validation: one of its two training videos (S1 Directions, S5 Eating) held out
    cfg = load_config(TINY, run_cfg(tmp_path, "data.val_share=0.5"), base=POSE_BASE)
    assert len(pose_images(cfg, "val")) == 2 and len(set(pose_images(cfg, "val").records["group"])) == 1


def test_eval_pose_config_on_a_fake_mpii_writes_and_scores_predictions(tmp_path):
    args = ["--config", TINY, *run_cfg(tmp_path, "data.source=mpii", "data.test_source=null",
                                      "data.val_share=0.0", "train.lr_schedule=step"),
            "--untrained"]
    result = eval_pose.main(args)
    pred = np.load(tmp_path / "run" / "pose_pred_untrained_mpii.npy")
    assert pred.shape == (3, 16, 2)
    # PCKh@0.5 by hand from the written file: head size 0.6 x the head box diagonal
    truth = np.array([mpii_entry(k)["joints"] for k in range(3)])
    head = 0.6 * np.hypot(20, 20)
    ok = np.linalg.norm(pred - truth, axis=-1) <= 0.5 * head
    in_mean = [j for j in range(16) if j not in (6, 7, 9)]  # not pelvis, thorax; head missing
    assert result["mean"]["PCKh@0.5"] == pytest.approx(100 * ok[:, in_mean].mean(), abs=1e-3)
    assert os.path.isfile(tmp_path / "run" / "pose_eval_untrained.json")


def test_eval_pose_config_on_fake_h36m_scores_mpjpe_per_action_with_multi_crop(tmp_path):
    args = ["--config", TINY, *run_cfg(tmp_path, "eval.crops=5", "data.val_share=0.0",
                                      "train.lr_schedule=step"), "--untrained"]
    result = eval_pose.main(args)
    pred = np.load(tmp_path / "run" / "pose_pred_untrained_h36m.npy")
    assert pred.shape == (2, 17, 3) and result["crops"] == 5
    with np.load(tmp_path / "h36m" / "annotation_body3d" / "fps50" / "h36m_test.npz") as z:
        truth = 1000 * z["S"][[0, 2], :, :3]
    err = np.linalg.norm((pred - pred[:, :1]) - (truth - truth[:, :1]), axis=-1).mean(1)
    assert result["actions"]["Direction"]["MPJPE"] == pytest.approx(err[0], abs=1e-3)
    assert result["actions"]["Walk Dog"]["MPJPE"] == pytest.approx(err[1], abs=1e-3)


def test_a_shifted_test_crop_moves_its_window():
    m = PF.crop_matrix([10, 20, 60, 70], 64)  # a 50-px box, a 62.5-px window
    moved = PF.shifted(m, (0.1, -0.2), 64)
    p = np.array([[33.0, 41.0]])
    side = 62.5
    np.testing.assert_allclose(PF.T.apply_affine(p + [0.1 * side, -0.2 * side], moved),
                               PF.T.apply_affine(p, m), atol=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["data.mpii_root=/no/such/mpii"], "data.mpii_root: no such folder /no/such/mpii"),
    (["data.mix_ratios=[50]"], "needs one share per dataset"),
    (["data.mix=[mpii, coco]"], "two or more different datasets"),
    (["model.options.context_maps=2"], "2D model predicts no depth, and h36m trains it"),
])
def test_bad_real_data_configs_are_one_line(tmp_path, extra, message):
    with pytest.raises(SystemExit, match=message.replace("[", r"\[")):
        train_pose.main(["--config", TINY, *run_cfg(tmp_path, *extra)])


def test_h36m_cannot_be_scored_in_a_layout_without_its_spine(tmp_path):
    args = ["--config", TINY, *run_cfg(tmp_path, "data.layout=pa20", "data.val_share=0.0",
                                      "train.lr_schedule=step"), "--untrained"]
    with pytest.raises(SystemExit, match="pa20 has no place for h36m's spine"):
        eval_pose.main(args)
