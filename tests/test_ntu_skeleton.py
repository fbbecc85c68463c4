"""NTU RGB+D .skeleton files written here in the authors' layout (frame count; per frame a body
count; per body a 10-value line, a joint count and 25 lines of 12 values), read back: two
bodies, a frame with none, truncated and garbled files, and ``python -m data.ntu --skeleton``."""
import os
import subprocess
import sys

import numpy as np
import pytest

from data import ntu as ntu_skeleton
from data.joints import NTU_FROM_KINECT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ID_A, ID_B = "72057594037931101", "72057594037931691"


def joint_values(body, t, j):
    """Distinct values for (body, frame, joint): x y z depthX depthY colorX colorY w x y z state."""
    base = 100 * body + 10 * t + j / 100
    return [0.25 + base / 1000, -0.5 + base / 1000, 3.5 + base / 1000, 250 + base, 200 + base,
            960 + base, 540 + base, 0.1, 0.2, 0.3, 0.9, 2 if j % 5 else 1]


def body_lines(body_id, body, t):
    lines = [f"{body_id} 0 1 1 1 1 0 0.03 -0.2 2", "25"]
    lines += [" ".join(f"{v:.7g}" for v in joint_values(body, t, j)) for j in range(25)]
    return lines


def skeleton_text(frames):
    """frames: a list of lists of (body_id, body number) present in each frame."""
    lines = [str(len(frames))]
    for t, bodies in enumerate(frames):
        lines.append(str(len(bodies)))
        for body_id, body in bodies:
            lines += body_lines(body_id, body, t)
    return "\n".join(lines) + "\n"


def write(path, frames):
    path.write_text(skeleton_text(frames))
    return str(path)


TWO_BODIES = [[(ID_A, 1), (ID_B, 2)], [], [(ID_B, 2)]]


def test_two_bodies_and_a_frame_without_any(tmp_path):
    s = ntu_skeleton.read_skeleton(write(tmp_path / "S001C001P001R001A050.skeleton",
                                         TWO_BODIES))
    assert s.frames == 3 and [b.id for b in s.bodies] == [ID_A, ID_B]
    a, b = s.bodies
    assert a.present.tolist() == [True, False, False]
    assert b.present.tolist() == [True, False, True]
    assert a.xyz.shape == (3, 25, 3) and a.color.shape == (3, 25, 2) and a.depth.shape == (3, 25, 2)
    for body, number in ((a, 1), (b, 2)):
        for t in np.flatnonzero(body.present):
            expected = np.array([[float(f"{v:.7g}") for v in joint_values(number, t, j)]
                                 for j in range(25)])
            assert np.array_equal(body.xyz[t], expected[:, 0:3])
            assert np.array_equal(body.depth[t], expected[:, 3:5])
            assert np.array_equal(body.color[t], expected[:, 5:7])
            assert body.tracking[t].tolist() == [2 if j % 5 else 1 for j in range(25)]
    assert np.isnan(a.xyz[1:]).all() and np.isnan(b.color[1]).all() and (b.tracking[1] == 0).all()
    assert b.xyz[:, NTU_FROM_KINECT].shape == (3, 20, 3)  # the paper's 20 joints


def test_a_file_of_empty_frames(tmp_path):
    s = ntu_skeleton.read_skeleton(write(tmp_path / "empty.skeleton", [[], []]))
    assert s.frames == 2 and s.bodies == []


@pytest.mark.parametrize("cut, message", [
    (lambda t: t[:len(t) // 2], r"the file ends in frame 1, body 2, joint \d+"),
    (lambda t: t.replace("\n25\n", "\n24\n", 1), "frame 1, body 1 has 24 joints, not 25"),
    (lambda t: t.replace("3\n2\n", "3\nX\n", 1), "'X' is not a whole number "
                                                 r"\(frame 1 of 3 \(its body count\)\)"),
    (lambda t: t.replace("0.9 2", "0.9 two", 1), r"'two' is not a number \(frame 1, body 1, "
                                                 r"joint 2\)"),
    (lambda t: t + "7\n", "1 values after the last of 3 frames")])
def test_bad_files_name_the_place(tmp_path, cut, message):
    path = tmp_path / "bad.skeleton"
    path.write_text(cut(skeleton_text(TWO_BODIES)))
    with pytest.raises(ValueError, match=message):
        ntu_skeleton.read_skeleton(str(path))


def run_ntu(*args):
    return subprocess.run([sys.executable, "-m", "data.ntu", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_cli_prints_frames_bodies_and_the_first_joint(tmp_path):
    path = write(tmp_path / "S001C001P001R001A050.skeleton", TWO_BODIES)
    run = run_ntu("--skeleton", path)
    assert run.returncode == 0, run.stderr
    x, y, z, _, _, cx, cy = (float(f"{v:.7g}") for v in joint_values(1, 0, 0)[:7])
    assert run.stdout.splitlines() == [
        f"{path}: 3 frames, 2 bodies",
        f"body {ID_A}: in 1 of 3 frames",
        f"body {ID_B}: in 2 of 3 frames",
        f"frame 1, body {ID_A}, joint 1 (spine_base): camera xyz {x:.7g} {y:.7g} {z:.7g} m, "
        f"colour xy {cx:.7g} {cy:.7g} px"]


def test_cli_when_the_first_frame_is_empty(tmp_path):
    run = run_ntu("--skeleton", write(tmp_path / "late.skeleton", [[], [(ID_B, 2)]]))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[2] == "frame 1 has no body"
    assert run.stdout.splitlines()[3].startswith(f"frame 2, body {ID_B}, joint 1 (spine_base)")


def test_cli_bad_files_are_one_line(tmp_path):
    path = tmp_path / "cut.skeleton"
    path.write_text(skeleton_text(TWO_BODIES)[:500])
    for target in (str(path), str(tmp_path / "missing.skeleton")):
        run = run_ntu("--skeleton", target)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and target in lines[0]


def test_split_counts_of_a_skeleton_folder(tmp_path):
    for name in ("S001C001P001R001A001", "S001C002P002R001A001", "S001C003P003R002A060"):
        write(tmp_path / f"{name}.skeleton", [[(ID_A, 1)]])
    (tmp_path / "notes.txt").write_text("not a skeleton")
    got = ntu_skeleton.count_splits(str(tmp_path))
    assert got["xsub"] == {"train": 2, "test": 1}  # performer 3 tests
    assert got["xview"] == {"train": 2, "test": 1}  # camera 1 tests


def test_data_ntu_is_a_script_that_runs_nothing_at_import(capsys):
    import data.ntu
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as exit_info:
        data.ntu.parse_args(["--help"])
    assert exit_info.value.code == 0 and "--skeleton" in capsys.readouterr().out
