"""eval_pose.py and engine/metrics/pose.py: PCKh, AUC and MPJPE against hand computations on two-
and three-pose examples written in the real annotation formats (gt_valid.mat, mmpose's .npz), the
validation scores, and bad inputs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_h36m import write_npz
from test_mpii import write_gt_valid

import eval_pose
from data.joints import MPII
from engine.metrics import pose, pose_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mpii_example(tmp_path):
    """Two entries. Head boxes: 30 x 40 (diagonal 50, head size 30) and 9 x 12 (diagonal 15,
    head size 9). Errors, as fractions of the head size:
      entry 0: right_ankle 0.4, left_wrist 0.1, pelvis 10/3; the rest exact
      entry 1: right_ankle missing in the truth, left_wrist 0.3, head_top 0.5 (counts at @0.5:
               "at most"), thorax 1.0; the rest exact."""
    rng = np.random.RandomState(0)
    truth = rng.randint(50, 400, (2, 16, 2)).astype(float)  # whole pixels: exact sums below
    visible = np.ones((2, 16), bool)
    visible[1, MPII.index("right_ankle")] = False
    boxes = np.array([[[0, 0], [30, 40]], [[10, 10], [19, 22]]], float)
    pred = truth.copy()
    pred[0, MPII.index("right_ankle")] += [12.0, 0.0]  # 12 / 30 = 0.4
    pred[0, MPII.index("left_wrist")] += [0.0, -3.0]  # 0.1
    pred[0, MPII.index("pelvis")] += [60.0, 80.0]  # 100 / 30
    pred[1, MPII.index("right_ankle")] += [500.0, 0.0]  # no truth: not counted
    pred[1, MPII.index("left_wrist")] += [2.7, 0.0]  # 2.7 / 9 = 0.3
    pred[1, MPII.index("head_top")] += [0.0, 4.5]  # 4.5 / 9 = 0.5
    pred[1, MPII.index("thorax")] += [5.4, 7.2]  # 9 / 9 = 1.0
    ann = write_gt_valid(tmp_path / "gt_valid.mat", truth, visible, boxes)
    path = str(tmp_path / "preds.npy")
    np.save(path, pred)
    return ann, path, pred


def test_pckh_equals_the_hand_computation(tmp_path):
    ann, path, _ = mpii_example(tmp_path)
    result = pose.evaluate_mpii(ann, path)
    joints = result["joints"]
    assert joints["right_ankle"]["PCKh@0.5"] == 100.0 and joints["right_ankle"]["PCKh@0.2"] == 0.0
    assert joints["left_wrist"]["PCKh@0.5"] == 100.0 and joints["left_wrist"]["PCKh@0.2"] == 50.0
    assert joints["head_top"]["PCKh@0.5"] == 100.0 and joints["head_top"]["PCKh@0.2"] == 50.0
    assert joints["pelvis"]["PCKh@0.5"] == 50.0 and joints["thorax"]["PCKh@0.5"] == 50.0
    assert joints["left_knee"]["PCKh@0.2"] == 100.0
    # Mean over the 14 joints without pelvis and thorax: 14 + 13 visible, all within 0.5;
    # three misses at 0.2 (right_ankle 0.4, left_wrist 0.3, head_top 0.5).
    assert result["mean"]["PCKh@0.5"] == 100.0
    assert result["mean"]["PCKh@0.2"] == pytest.approx(100 * 24 / 27, abs=1e-4)


def test_auc_equals_the_hand_computation():
    """One joint, two samples at 0.105 and 0.305 of the head size. On the grid 0, 0.01, ...:
    sample 1's curve is 0 up to 0.10, 1 from 0.11: trapezoids give 0.005 + 0.39 over [0, 0.5]
    (AUC 79 %) and 0.005 + 0.09 over [0, 0.2] (47.5 %); sample 2's, 0 up to 0.30: 0.005 + 0.19
    over [0, 0.5] (39 %), 0 over [0, 0.2]. The joint's curve is their mean."""
    scores = pose_metrics.pckh_scores(np.array([[0.105], [0.305]]), ("j",), not_in_mean=())
    assert scores["AUC@0.5"][0][0] == pytest.approx((79 + 39) / 2)
    assert scores["AUC@0.2"][0][0] == pytest.approx(47.5 / 2)
    assert scores["AUC@0.5"][1] == pytest.approx(59.0)
    assert scores["PCKh@0.2"][1] == 50.0


def h36m_example(tmp_path):
    """mmpose-style npz (metres) with 5 rows, 3 of them test frames of the protocol; predictions
    in mm: row 1 exact but shifted by (100, -200, 3000) (root alignment removes it) except joint
    5 off by 34 mm in z (MPJPE 34 / 17 = 2); row 3 joint 16 off by (30, 40, 0) and joint 1 by
    (0, 0, 18) (68 / 17 = 4); row 4 the root off by 17 mm in x (after alignment the 16 other
    joints are off by 17: 16 * 17 / 17 = 16)."""
    rows = [(1, "Directions_1", "54138969", 1), (9, "Directions_1", "54138969", 1),
            (9, "Directions_1", "54138969", 2), (9, "Walking", "55011271", 65),
            (11, "Eating_2", "58860488", 129)]
    joints_mm, _ = write_npz(tmp_path / "h36m_test.npz", rows=rows)
    pred = joints_mm.copy()
    pred[1] += [100.0, -200.0, 3000.0]
    pred[1, 5, 2] += 34.0
    pred[3, 16] += [30.0, 40.0, 0.0]
    pred[3, 1, 2] += 18.0
    pred[4, 0, 0] += 17.0
    return str(tmp_path / "h36m_test.npz"), pred


def test_mpjpe_per_action_equals_the_hand_computation(tmp_path):
    ann, pred = h36m_example(tmp_path)
    path = str(tmp_path / "preds.npy")
    np.save(path, pred[[1, 3, 4]])  # one pose per protocol test row
    result = pose.evaluate_h36m(ann, path)
    assert result["samples"] == 3 and result["subjects"] == [9, 11]
    actions = {a: v["MPJPE"] for a, v in result["actions"].items()}
    assert actions == pytest.approx({"Direction": 2.0, "Walk": 4.0, "Eat": 16.0}, abs=1e-6)
    assert result["average_over_frames"] == pytest.approx(22 / 3, abs=1e-4)
    assert result["average_over_actions"] == pytest.approx(22 / 3, abs=1e-4)
    np.save(path, pred)  # one pose per row of the file: the same rows are scored
    assert pose.evaluate_h36m(ann, path)["average_over_frames"] == pytest.approx(22 / 3,
                                                                                      abs=1e-4)
    everything = pose.evaluate_h36m(ann, path, frames="all")
    assert everything["samples"] == 5
    assert everything["average_over_frames"] == pytest.approx(22 / 5, abs=1e-4)


def run_eval(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "eval_pose.py"), *args],
                          cwd=ROOT, capture_output=True, text=True)


def test_cli_prints_a_table_and_writes_json_beside_the_predictions(tmp_path):
    ann, path, _ = mpii_example(tmp_path)
    run = run_eval("--dataset", "mpii", "--ann", ann, "--pred", path)
    assert run.returncode == 0, run.stderr
    assert "| joint | PCKh@0.2 | PCKh@0.5 | AUC@0.2 | AUC@0.5 |" in run.stdout
    assert "| pelvis (not in mean) | 50.0 | 50.0 |" in run.stdout
    saved = json.loads((tmp_path / "preds_pckh.json").read_text())
    assert saved["mean"]["PCKh@0.5"] == 100.0 and saved["samples"] == 2
    ann3, pred = h36m_example(tmp_path)
    np.save(str(tmp_path / "p3.npy"), pred[[1, 3, 4]])
    out = str(tmp_path / "sub" / "r.json")
    os.makedirs(os.path.dirname(out))
    run = run_eval("--dataset", "h36m", "--ann", ann3, "--pred", str(tmp_path / "p3.npy"),
                   "--out", out)
    assert run.returncode == 0, run.stderr
    assert "| Walk | 1 | 4.0 |" in run.stdout and "| **average (frames)** | 3 | 7.3 |" in run.stdout
    assert json.loads(open(out).read())["actions"]["Eat"]["MPJPE"] == pytest.approx(16.0)


def bad_predictions(tmp_path, pred):
    def save(name, array):
        path = str(tmp_path / name)
        np.save(path, array)
        return path

    nan = pred.copy()
    nan[1, 3, 0] = np.nan
    inf = pred.copy()
    inf[0, 15, 1] = np.inf
    text = tmp_path / "text.npy"
    text.write_text("0 1 2")
    return {
        "nan": (save("nan.npy", nan), r"nan.npy: prediction 1, joint 3 \(left_hip\) is NaN"),
        "inf": (save("inf.npy", inf), r"prediction 0, joint 15 \(left_wrist\) is infinite"),
        "shape": (save("shape.npy", np.zeros((2, 16, 3))),
                  r"shape \(2, 16, 3\); expected \(N, 16, 2\)"),
        "count": (save("count.npy", np.zeros((3, 16, 2))), "3 predictions; the annotations need 2"),
        "strings": (save("strings.npy", np.array([["a"]])), "not a .npy array of numbers"),
        "text": (str(text), "not a .npy array of numbers"),
        "missing": (str(tmp_path / "none.npy"), "no such file"),
    }


@pytest.mark.parametrize("case", ["nan", "inf", "shape", "count", "strings", "text", "missing"])
def test_bad_predictions_are_one_line_naming_the_entry(tmp_path, case):
    ann, _, pred = mpii_example(tmp_path)
    path, message = bad_predictions(tmp_path, pred)[case]
    with pytest.raises(ValueError if case != "missing" else OSError, match=message):
        pose.evaluate_mpii(ann, path)
    run = run_eval("--dataset", "mpii", "--ann", ann, "--pred", path)
    assert run.returncode == 1 and "Traceback" not in run.stderr and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not os.path.exists(os.path.splitext(path)[0] + "_pckh.json")


def test_h36m_prediction_count_names_both_choices(tmp_path):
    ann, pred = h36m_example(tmp_path)
    np.save(str(tmp_path / "four.npy"), pred[:4])
    run = run_eval("--dataset", "h36m", "--ann", ann, "--pred", str(tmp_path / "four.npy"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == (f"error: {tmp_path / 'four.npy'}: 4 predictions; the "
                                  f"annotations need 3 or 5")


def test_bad_annotation_files_are_one_line(tmp_path):
    _, path, _ = mpii_example(tmp_path)
    (tmp_path / "junk.mat").write_text("junk")
    for dataset, ann in (("mpii", str(tmp_path / "junk.mat")), ("h36m", str(tmp_path / "x.npz"))):
        run = run_eval("--dataset", dataset, "--ann", ann, "--pred", path)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1


def test_script_imports_without_running(capsys):
    assert callable(eval_pose.parse_args) and callable(eval_pose.main)
    with pytest.raises(SystemExit) as exit_info:
        eval_pose.parse_args(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


def test_pck_of_the_box_and_mpjpe_about_the_pelvis_by_hand():
    """Two frames of 17 joints. Frame 0: box 100 x 50 (size 100); frame 1: box 20 x 40 (40).
    2D errors: frame 0 nose 5 px (0.05: correct at 0.1), left_eye 15 px (0.15: only at 0.2),
    right_eye 25 px (neither); frame 1 nose 4 px (0.1: "at most", correct at 0.1), left_eye
    not annotated (not counted); the rest exact. 3D: frame 0 predicted = truth + 7 mm on every
    joint (the pelvis moves too: error 0); frame 1 left_wrist 30 mm off, so the pelvis stays
    and the error is 30 mm on one joint of 17."""
    rng = np.random.RandomState(0)
    kps = np.concatenate([rng.randint(10, 90, (2, 17, 2)), np.full((2, 17, 1), 2)], axis=-1)
    kps = kps.astype(float)  # whole pixels: the distances below are exact
    kps[1, 1, 2] = 0.0
    truth = dict(keypoints=kps, boxes=np.array([[0, 0, 100, 50], [10, 10, 30, 50]], float),
                 joints_3d=rng.uniform(-500, 500, (2, 17, 3)) + [0, 0, 5000])
    uv = kps[..., :2].copy()
    uv[0, 0, 0] += 5.0
    uv[0, 1] += [9.0, 12.0]
    uv[0, 2, 1] -= 25.0
    uv[1, 0] += [0.0, 4.0]
    uv[1, 1] += 99.0  # not annotated
    xyz = truth["joints_3d"] + 0.0
    xyz[0] += 7.0
    xyz[1, 9, 2] += 30.0
    scores = pose.score_frames(uv, xyz, truth)
    pck1, mean1 = scores["PCK@0.1"]
    pck2, mean2 = scores["PCK@0.2"]
    assert list(pck1[:3]) == [100.0, 0.0, 50.0] and list(pck2[:3]) == [100.0, 100.0, 50.0]
    assert mean1 == pytest.approx(100 * 31 / 33) and mean2 == pytest.approx(100 * 32 / 33)
    mpjpe, mean = scores["MPJPE"]
    assert mpjpe[9] == pytest.approx(15.0) and mpjpe[0] == pytest.approx(0.0, abs=1e-9)
    assert mean == pytest.approx(30.0 / 34)
    # a pelvis-aligned error ignores a shift of the whole pose; joint_errors with an index root
    # is the Human3.6M form
    assert pose_metrics.joint_errors(xyz[:1], truth["joints_3d"][:1], (11, 12)).max() < 1e-9
    assert pose_metrics.mpjpe(xyz, truth["joints_3d"], 0)[0] == pytest.approx(0.0, abs=1e-9)



def test_the_validation_scores_by_hand():
    """frames_mpjpe_of: pelvis-aligned (the hips' midpoint), so a shift of the whole pose costs
    nothing; images_error_of: MPJPE (root joint 0) with 3D truth, else the 2D error in % of the
    box's longer side; joints not annotated do not count."""
    rng = np.random.RandomState(1)
    joints_3d = rng.uniform(-500, 500, (1, 17, 3))
    xyz = joints_3d + 7.0
    xyz[0, 0, 2] += 34.0  # the nose: 34 mm on one joint of 17
    assert pose.frames_mpjpe_of(xyz, dict(joints_3d=joints_3d)) == pytest.approx(2.0)
    valid = np.array([[True, True, True, False]])
    flat = dict(box=np.array([[0.0, 0.0, 100.0, 50.0]]), joints=np.zeros((1, 4, 2)),
                valid=valid, depth=np.full((1, 4), np.nan))
    uv = np.array([[[0.0, 0.0], [6.0, 8.0], [0.0, 20.0], [500.0, 0.0]]])
    assert pose.images_error_of(uv, None, flat, has_3d=False) == pytest.approx(10.0)
    truth = rng.uniform(-500, 500, (1, 4, 3))
    deep = dict(flat, xyz=truth, depth=truth[..., 2])
    pred = truth + 5.0
    pred[0, 1, 0] += 12.0
    pred[0, 3] += 1000.0  # not annotated
    assert pose.images_error_of(None, pred, deep, has_3d=True) == pytest.approx(4.0)


def test_pooled_pck_equals_the_share_of_scored_joints_by_hand():
    """PCK pooled over joints (pck_curve and percent, as score_frames and the pose branch's
    diagnosis pool it): correct joints over scored joints; np.inf (not annotated) and NaN do
    not count."""
    scaled = np.array([[0.04, 0.15, np.inf], [0.2, np.nan, 0.05], [0.5, 0.1, 0.01]])
    correct, visible = pose_metrics.pck_curve(scaled, (0.05, 0.1, 0.2))
    pooled = [float(pose_metrics.percent(c.sum(), visible.sum())) for c in correct]
    finite = scaled[np.isfinite(scaled)]  # 7 scored joints
    by_hand = [100 * np.count_nonzero(finite <= a) / finite.size for a in (0.05, 0.1, 0.2)]
    assert by_hand == pytest.approx([300 / 7, 400 / 7, 600 / 7])
    assert pooled == pytest.approx(by_hand, rel=1e-12)

def test_without_a_config_or_the_file_arguments_is_one_line():
    run = run_eval("--dataset", "mpii")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("error: give --dataset, --ann and --pred (score a file) or "
                                  "--config (run a model)")
