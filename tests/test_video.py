"""Video reading and writing: round trip, both decoders, and the reasons given for bad files."""
import numpy as np
import pytest

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
