"""demo_video.py end to end: generated videos of two sizes and codecs through a one-epoch tiny
model; a file that is not a video and a missing demo model are one line each."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import pytest

import demo_video
import train_action
from data.synth import CLASSES
from data.video import read_video
from helpers import ROOT, config, overrides


@pytest.fixture(scope="module")
def checkpoint(synth_work, tmp_path_factory):
    """KPS PoseAction RGBAction (ResNet-18), stage 2 on a KPS RGBAction model, one epoch each."""
    root = tmp_path_factory.mktemp("demo_video")
    one = ("train.epochs=1", "train.batch_size=16", "train.lr_steps=[]")
    kps = train_action.main(["--config", config("kps")] + overrides(
        synth_work, str(root / "kps"), *one))
    return train_action.main(["--config", config("kps_pose_r18")] + overrides(
        synth_work, str(root / "kps_pose_r18"), *one, f"train.init_from={kps}"))


def h264_encoder():
    """A way to write H.264 here: OpenCV's avc1, else an ffmpeg on PATH; None when neither."""
    probe = os.path.join(tempfile.gettempdir(), f"h264-probe-{os.getpid()}.mp4")
    try:
        writer = cv2.VideoWriter(probe, cv2.VideoWriter_fourcc(*"avc1"), 10.0, (64, 64))
        ok = writer.isOpened()
        writer.release()
    finally:
        if os.path.exists(probe):
            os.remove(probe)
    return "cv2" if ok else ("ffmpeg" if shutil.which("ffmpeg") else None)


def write_clip(path, frames, size, codec, fps=12.0):
    """Frames letterboxed into ``size`` (W, H), written as mp4v with OpenCV or H.264."""
    W, H = size
    boxed = []
    for f in frames:
        s = min(W / f.shape[1], H / f.shape[0])
        r = cv2.resize(f, (int(f.shape[1] * s), int(f.shape[0] * s)))
        out = np.zeros((H, W, 3), np.uint8)
        y, x = (H - r.shape[0]) // 2, (W - r.shape[1]) // 2
        out[y:y + r.shape[0], x:x + r.shape[1]] = r
        boxed.append(out)
    if codec == "h264" and h264_encoder() == "ffmpeg":
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt",
                        "rgb24", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", path], input=np.stack(boxed).tobytes(),
                       check=True)
        return path
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*("avc1" if codec == "h264" else
                                                              "mp4v")), fps, (W, H))
    for f in boxed:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.mark.parametrize("size, codec", [((340, 256), "mp4v"), ((1920, 1080), "h264")])
def test_a_video_gives_a_box_poses_top5_an_annotated_mp4_and_a_sheet(
        synth_work, checkpoint, tmp_path, size, codec):
    if codec == "h264" and h264_encoder() is None:
        pytest.skip("no H.264 encoder here (OpenCV's pip build has none; no ffmpeg on PATH)")
    frames, _ = read_video(os.path.join(synth_work, "prepared", "videos",
                                        "a08_s01_e01_v03.avi"))
    video = write_clip(str(tmp_path / f"clip_{size[0]}.mp4"), frames, size, codec)
    out = str(tmp_path / "out")
    record = demo_video.main([video, "--checkpoint", checkpoint, "--out", out,
                              "--weights", str(tmp_path / "absent.params")])
    assert record["frames"] == len(frames) and (record["width"], record["height"]) == size
    assert record["box_source"] == "full frame: no dcn_rfcn weights"
    assert record["box"] == [-0.5, -0.5, size[0] - 0.5, size[1] - 0.5]
    assert set(record["top5"]) == {"rgb", "pose", "fused"}
    for ranked in record["top5"].values():
        p = [r["probability"] for r in ranked]
        assert len(ranked) == 5 and p == sorted(p, reverse=True) and sum(p) <= 1 + 1e-6
        assert all(r["action"] in CLASSES for r in ranked)
    stem = os.path.join(out, f"clip_{size[0]}")
    annotated, fps = read_video(stem + "_annotated.mp4")
    scale = min(1.0, demo_video.DISPLAY_SIDE / max(size))
    height = round(size[1] * scale)
    assert annotated.shape[:3] == (len(frames), height, round(size[0] * scale) + max(220, height))
    assert cv2.imread(stem + "_sheet.png") is not None
    with open(stem + "_predictions.json") as f:
        assert json.load(f)["top5"] == record["top5"]


def test_a_file_that_is_not_a_video_is_one_line(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    proc = subprocess.run([sys.executable, "demo_video.py", str(notes), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: {notes}: not a video OpenCV can decode"], proc.stderr


def test_without_the_demo_model_it_says_to_run_make_demo(synth_work, tmp_path, monkeypatch):
    video = str(tmp_path / "clip.avi")
    shutil.copy(os.path.join(synth_work, "prepared", "videos", "a01_s01_e01_v03.avi"), video)
    monkeypatch.chdir(tmp_path)  # no runs/demo here
    with pytest.raises(SystemExit, match=r"run `make demo` first"):
        demo_video.main([video, "--out", str(tmp_path / "out")])


def test_demo_video_is_an_entry_script(capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo_video.parse_args(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out
