"""MPII: the Simple-Baselines JSON and gt_valid.mat, written here in their real layouts (json
list of entries; jnt_missing (16, N), pos_gt_src (16, 2, N), headboxes_src (2, 2, N)), read back."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from data import mpii

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def entry(k, with_joints=True):
    e = {"image": f"{k:09d}.jpg", "center": [100.0 + k, 200.5], "scale": 1.25 + k}
    if with_joints:
        e["joints"] = [[10.0 * j + k, 5.0 * j + 0.5] for j in range(16)]
        e["joints_vis"] = [0 if j == 9 else 1 for j in range(16)]
        e["joints"][9] = [-1.0, -1.0]  # MPII's missing joint
    return e


def write_json(path, entries):
    with open(path, "w") as f:
        json.dump(entries, f)
    return str(path)


def write_gt_valid(path, joints, visible, headboxes, codes=mpii.MAT_CODES):
    """The evaluation file as the MPII tools lay it out: joints last-axis per entry."""
    names = np.empty((1, len(codes)), dtype=object)
    names[0, :] = list(codes)
    scipy.io.savemat(str(path), {
        "dataset_joints": names,
        "jnt_missing": (~np.asarray(visible, bool)).T.astype(float),
        "pos_gt_src": np.asarray(joints, float).transpose(1, 2, 0),
        "headboxes_src": np.asarray(headboxes, float).transpose(1, 2, 0)})
    return str(path)


def test_json_reads_back_exactly(tmp_path):
    path = write_json(tmp_path / "train.json", [entry(1), entry(2), entry(3, False)])
    got = mpii.read_annotations(path)
    assert len(got) == 3 and got[0]["image"] == "000000001.jpg"
    assert got[1]["center"].tolist() == [102.0, 200.5] and got[1]["scale"] == 3.25
    assert got[0]["joints"].tolist() == entry(1)["joints"]
    assert got[0]["visible"].tolist() == [j != 9 for j in range(16)]
    assert np.isnan(got[2]["joints"]).all() and not got[2]["visible"].any()  # test.json style


def test_bad_json_entries_name_the_entry(tmp_path):
    bad = entry(2)
    bad["joints"] = bad["joints"][:15]
    path = write_json(tmp_path / "valid.json", [entry(1), bad])
    with pytest.raises(ValueError, match="valid.json: entry 1: .*16 \\[x, y\\] pairs"):
        mpii.read_annotations(path)
    with pytest.raises(ValueError, match="a JSON list"):
        mpii.read_annotations(write_json(tmp_path / "x_val.json", {"image": "a.jpg"}))


def test_gt_valid_reads_back_in_entry_order(tmp_path):
    rng = np.random.RandomState(0)
    joints = rng.rand(3, 16, 2) * 300
    visible = rng.rand(3, 16) > 0.3
    boxes = np.array([[[10, 20], [13, 24]], [[0, 0], [30, 40]], [[5, 5], [11, 13]]], float)
    path = write_gt_valid(tmp_path / "gt_valid.mat", joints, visible, boxes)
    gt = mpii.read_gt_valid(path)
    assert np.array_equal(gt["joints"], joints) and np.array_equal(gt["visible"], visible)
    assert np.array_equal(gt["headboxes"], boxes)
    # Head size: 0.6 x diagonal; diagonals 5, 50, 10 by hand.
    assert np.allclose(mpii.head_sizes(gt["headboxes"]), [3.0, 30.0, 6.0])


def test_one_entry_gt_valid_keeps_its_shape(tmp_path):
    path = write_gt_valid(tmp_path / "g.mat", np.ones((1, 16, 2)), np.ones((1, 16), bool),
                          np.ones((1, 2, 2)))
    assert mpii.read_gt_valid(path)["joints"].shape == (1, 16, 2)


def test_bad_gt_valid_files(tmp_path):
    codes = list(mpii.MAT_CODES)
    codes[0], codes[5] = codes[5], codes[0]
    path = write_gt_valid(tmp_path / "g.mat", np.ones((2, 16, 2)), np.ones((2, 16), bool),
                          np.ones((2, 2, 2)), codes=codes)
    with pytest.raises(ValueError, match="not MPII's order"):
        mpii.read_gt_valid(path)
    scipy.io.savemat(str(tmp_path / "h.mat"), {"jnt_missing": np.zeros((16, 2))})
    with pytest.raises(ValueError, match="no 'pos_gt_src'"):
        mpii.read_gt_valid(str(tmp_path / "h.mat"))
    (tmp_path / "t.mat").write_text("not a mat file")
    with pytest.raises(ValueError, match="not a readable MATLAB file"):
        mpii.read_gt_valid(str(tmp_path / "t.mat"))


def test_split_counts_from_file_names(tmp_path):
    write_json(tmp_path / "mpii_train.json", [entry(k) for k in range(3)])
    write_json(tmp_path / "mpii_val.json", [entry(k) for k in range(2)])
    write_json(tmp_path / "mpii_test.json", [entry(k, False) for k in range(4)])
    assert mpii.count_splits(str(tmp_path)) == {"valid": {"train": 3, "test": 2},
                                                "test": {"train": 0, "test": 4}}
    assert mpii.count_splits(str(tmp_path / "mpii_val.json"))["valid"] == {"train": 0, "test": 2}
    with pytest.raises(ValueError, match="cannot tell the split"):
        mpii.count_splits(write_json(tmp_path / "people.json", [entry(1)]))


def test_protocols_cli_counts_an_mpii_json(tmp_path):
    path = write_json(tmp_path / "train.json", [entry(k) for k in range(5)])
    run = subprocess.run([sys.executable, "-m", "data.protocols", "--dataset", "mpii", "--names",
                          path], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["protocols"]["valid"] == {"train": 5, "test": 0}
