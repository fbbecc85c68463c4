"""Human3.6M: mmpose's annotation .npz (S in metres, part in pixels) and cameras.pkl, written here
as mmpose's converter writes them, read back; the protocol's rows and the split counts."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from data import h36m

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imgname(subject, sequence, camera, frame):
    video = f"S{subject}_{sequence}.{camera}"
    return f"S{subject}/{video}/{video}_{frame:06d}.jpg"


ROWS = [(1, "Directions_1", "54138969", 1), (9, "Directions_1", "54138969", 1),
        (9, "Directions_1", "54138969", 2), (9, "TakingPhoto", "55011271", 65),
        (11, "WalkingDog_1", "58860488", 129), (11, "SittingDown_2", "60457274", 100)]


def write_npz(path, rows=ROWS, seed=0, unit=0.001):
    """Rows (subject, sequence, camera, frame) -> an mmpose-style npz; returns the 3D joints in
    mm as they were before the converter's division."""
    rng = np.random.RandomState(seed)
    n = len(rows)
    joints_mm = rng.uniform(-800, 800, (n, 17, 3)) + [0, 0, 4000]
    part = np.concatenate([rng.uniform(0, 1000, (n, 17, 2)), np.ones((n, 17, 1))], axis=-1)
    S = np.concatenate([joints_mm * unit, np.ones((n, 17, 1))], axis=-1)
    np.savez(str(path), imgname=np.array([imgname(*r) for r in rows]),
             center=rng.uniform(300, 700, (n, 2)), scale=rng.uniform(1, 3, n), part=part, S=S)
    return joints_mm, part


def test_npz_reads_back_in_millimetres(tmp_path):
    joints_mm, part = write_npz(tmp_path / "h36m_test.npz")
    ann = h36m.read_annotations(str(tmp_path / "h36m_test.npz"))
    assert np.allclose(ann["joints_3d"], joints_mm, atol=1e-9)
    assert np.array_equal(ann["joints_2d"], part[..., :2]) and ann["visible_2d"].all()
    assert ann["subject"].tolist() == [1, 9, 9, 9, 11, 11]
    assert ann["action"].tolist() == ["Direction", "Direction", "Direction", "Photo",
                                      "Walk Dog", "Sit Down"]
    assert ann["camera"][3] == "55011271" and ann["frame"].tolist() == [1, 1, 2, 65, 129, 100]
    assert ann["video"][0] == "S1_Directions_1.54138969"


def test_a_file_in_millimetres_is_taken_as_it_is(tmp_path):
    joints_mm, _ = write_npz(tmp_path / "mm.npz", unit=1.0)
    assert np.allclose(h36m.read_annotations(str(tmp_path / "mm.npz"))["joints_3d"], joints_mm)


def test_protocol_rows_and_counts(tmp_path):
    write_npz(tmp_path / "h36m_test.npz")
    ann = h36m.read_annotations(str(tmp_path / "h36m_test.npz"))
    # S9 frames 1 and 65, S11 frame 129 are multiples of 64 (0-based 0, 64, 128); frame 2 and
    # frame 100 are not; S1 trains.
    assert h36m.protocol_rows(ann, "test").tolist() == [1, 3, 4]
    assert h36m.protocol_rows(ann, "train").tolist() == [0]
    write_npz(tmp_path / "h36m_train.npz", rows=ROWS[:1] * 4)
    assert h36m.count_splits(str(tmp_path)) == {"p1": {"train": 5, "test": 3}}


def test_frame_step_tells_fps10_from_fps50():
    ann = {"video": np.array(["a", "a", "a", "b"]), "frame": np.array([1, 6, 11, 1])}
    assert h36m.frame_step(ann) == 5
    ann = {"video": np.array(["a", "a", "b"]), "frame": np.array([1, 2, 3])}
    assert h36m.frame_step(ann) == 1


@pytest.mark.parametrize("name, expected", [
    ("S1/S1_TakingPhoto.54138969/S1_TakingPhoto.54138969_000001.jpg", (1, "Photo", "54138969", 1)),
    ("S11_WalkTogether_1.60457274_001234.jpg", (11, "Walk Pair", "60457274", 1234)),
    ("S5_Sitting 2.55011271_000005.jpg", (5, "Sitting", "55011271", 5))])
def test_image_names(name, expected):
    assert h36m.parse_imgname(name) == expected


def test_bad_files_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="not a Human3.6M image name"):
        h36m.parse_imgname("frame_0001.jpg")
    with pytest.raises(ValueError, match="unknown Human3.6M action 'Dancing'"):
        h36m.parse_imgname("S9_Dancing.54138969_000001.jpg")
    np.savez(str(tmp_path / "x.npz"), imgname=np.array(["a.jpg"]))
    with pytest.raises(ValueError, match="has no 'S'"):
        h36m.read_annotations(str(tmp_path / "x.npz"))
    np.savez(str(tmp_path / "y.npz"), imgname=np.array(["S9_Eating.54138969_000001.jpg"]),
             S=np.zeros((1, 16, 4)))
    with pytest.raises(ValueError, match=r"S has shape \(1, 16, 4\), expected \(1, 17, 4\)"):
        h36m.read_annotations(str(tmp_path / "y.npz"))
    (tmp_path / "z.npz").write_text("text")
    with pytest.raises(ValueError, match="not an .npz of arrays"):
        h36m.read_annotations(str(tmp_path / "z.npz"))


def test_cameras_pickle_reads_back(tmp_path):
    cam = {"R": np.eye(3), "T": np.array([[1.8], [2.0], [1.5]]), "c": np.array([[512.5], [515.4]]),
           "f": np.array([[1145.0], [1143.8]]), "k": np.zeros((3, 1)), "p": np.zeros((2, 1)),
           "w": 1000, "h": 1002, "name": "camera1", "id": "54138969"}
    with open(tmp_path / "cameras.pkl", "wb") as f:
        pickle.dump({("S1", "54138969"): cam}, f)
    got = h36m.read_cameras(str(tmp_path / "cameras.pkl"))
    assert list(got) == [("S1", "54138969")]
    one = got[("S1", "54138969")]
    assert np.array_equal(one["f"], cam["f"]) and one["w"] == 1000 and one["id"] == "54138969"
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump({"S1": cam}, f)
    with pytest.raises(ValueError, match="is not \\(subject, camera id\\)"):
        h36m.read_cameras(str(tmp_path / "bad.pkl"))


class _RunsCode:
    """A pickle that calls a function (here: writes a file) when it is loaded."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_cameras_pickle_that_would_run_code_is_refused_unrun(tmp_path):
    hit = tmp_path / "ran.txt"
    cam = {"R": np.eye(3), "T": np.zeros((3, 1)), "c": np.zeros((2, 1)), "f": np.ones((2, 1)),
           "payload": _RunsCode(str(hit))}
    path = tmp_path / "cameras.pkl"
    with open(path, "wb") as f:
        pickle.dump({("S1", "54138969"): cam}, f)
    with pytest.raises(ValueError) as err:
        h36m.read_cameras(str(path))
    assert str(path) in str(err.value) and "io.open" in str(err.value)
    assert "\n" not in str(err.value)
    assert not hit.exists()  # the callable was never called
    # numpy scalars (np.float64 values) and plain containers load through the same unpickler
    with open(path, "wb") as f:
        pickle.dump({("S1", "54138969"): dict(cam, payload=[np.float64(2.5), (1, "a")])}, f)
    assert h36m.read_cameras(str(path))[("S1", "54138969")]["payload"][0] == 2.5


def test_protocols_cli_counts_an_npz(tmp_path):
    write_npz(tmp_path / "h36m_test.npz")
    run = subprocess.run([sys.executable, "-m", "data.protocols", "--dataset", "h36m", "--names",
                          str(tmp_path / "h36m_test.npz")], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["protocols"] == {"p1": {"train": 1, "test": 3}}
