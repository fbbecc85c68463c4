"""Video reading and writing: round trip, both decoders, the reasons given for bad files, and
writes that fail leaving nothing under the final name."""
import errno
import glob
import os

import cv2
import numpy as np
import pytest

from data import video as video_module
from common.errors import one_line
from data.video import VideoError, read_frames, read_video, write_video


@pytest.fixture
def video(tmp_path):
    frames = np.zeros((10, 48, 64, 3), np.uint8)
    for t in range(10):  # a bright square moving right, on a smooth background
        frames[t] = np.linspace(40, 90, 64)[None, :, None].astype(np.uint8)
        frames[t, 10:26, 4 * t:4 * t + 16] = (200, 60, 30)
    path = str(tmp_path / "v.avi")
    write_video(path, frames, 12)
    return path, frames


def test_round_trip_keeps_frames_and_fps(video):
    path, frames = video
    assert os.listdir(os.path.dirname(path)) == ["v.avi"]  # the temporary was renamed
    got, fps = read_video(path)
    assert got.shape == frames.shape and fps == 12
    assert np.abs(got.astype(int) - frames).mean() < 3  # MJPG is lossy, slightly
    left_edge = lambda f: (f[:, 18, :, 0] > 128).argmax(axis=1)  # noqa: E731, the square moves
    assert np.abs(left_edge(got) - left_edge(frames)).max() <= 1


@pytest.mark.parametrize("backend", ["cv2", "decord"])
def test_read_frames_picks_the_asked_frames(video, backend):
    path, frames = video
    got = read_frames(path, [7, 2, 2, 9], backend)
    ref, _ = read_video(path)
    assert got.shape == (4, 48, 64, 3)
    assert np.abs(got.astype(int) - ref[[7, 2, 2, 9]]).mean() < 2  # decoders agree


def test_bad_files_have_reasons(tmp_path):
    empty = tmp_path / "e.avi"
    empty.write_bytes(b"")
    text = tmp_path / "t.avi"
    text.write_text("not a video\n" * 20)
    for path, reason in [(empty, "zero-byte file"), (text, "not a readable video"),
                         (tmp_path / "none.avi", "missing file")]:
        with pytest.raises(VideoError, match=reason):
            read_video(str(path))
    with pytest.raises(VideoError, match="decord"):
        read_frames(str(text), [0], "decord")


class HalfWriter:
    """cv2.VideoWriter as on a disk that fills half-way: later frames are lost without a word,
    as OpenCV loses them."""

    def __init__(self, path, fourcc, fps, size, frames):
        self.writer, self.left = REAL_WRITER(path, fourcc, fps, size), frames // 2

    def isOpened(self):  # noqa: N802, OpenCV's name
        return self.writer.isOpened()

    def write(self, frame):
        if self.left > 0:
            self.writer.write(frame)
        self.left -= 1

    def release(self):
        self.writer.release()


REAL_WRITER = cv2.VideoWriter


def test_a_video_cut_short_is_never_renamed(video, monkeypatch):
    path, frames = video
    with open(path, "rb") as f:
        before = f.read()
    monkeypatch.setattr(video_module.cv2, "VideoWriter",
                        lambda *args: HalfWriter(*args, frames=len(frames)))
    with pytest.raises(OSError) as info:
        write_video(path, frames[::-1], 12)  # a rewrite: the old file must survive it
    assert info.value.filename == path
    assert "reads back 5 of 10 frames of 64x48" in one_line(info.value)
    with open(path, "rb") as f:
        assert f.read() == before
    assert glob.glob(path + ".tmp*") == []


def test_a_new_video_cut_short_leaves_no_file(tmp_path, monkeypatch):
    frames = np.full((6, 32, 32, 3), 128, np.uint8)
    monkeypatch.setattr(video_module.cv2, "VideoWriter",
                        lambda *args: HalfWriter(*args, frames=len(frames)))
    path = str(tmp_path / "new.avi")
    with pytest.raises(OSError, match="3 of 6"):
        write_video(path, frames, 12)
    assert os.listdir(str(tmp_path)) == []


def test_an_unwritable_folder_is_one_line_naming_the_path(tmp_path):
    # Root ignores chmod: a folder below a regular file is unwritable for everyone.
    (tmp_path / "file").write_text("a regular file")
    path = str(tmp_path / "file" / "v.avi")
    with pytest.raises(NotADirectoryError) as info:
        write_video(path, np.zeros((2, 16, 16, 3), np.uint8), 12)
    assert info.value.errno == errno.ENOTDIR
    assert one_line(info.value) == f"{path}: Not a directory"


def test_frames_of_the_wrong_kind_are_refused(tmp_path):
    path = str(tmp_path / "v.avi")
    for bad in (np.zeros((0, 16, 16, 3), np.uint8), np.zeros((2, 16, 16, 3), np.float32),
                np.zeros((2, 16, 16), np.uint8)):
        with pytest.raises(ValueError, match="uint8"):
            write_video(path, bad, 12)
    assert os.listdir(str(tmp_path)) == []
