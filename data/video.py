"""Reading and writing videos. Frames are RGB uint8 arrays of layout (T, H, W, 3).

Decoding uses OpenCV (``backend="cv2"``) or decord (``backend="decord"``, faster random access).
Every failure is a VideoError with a one-line reason, so callers can skip and report the file.
"""
import os

import cv2
import numpy as np

WRITE_FOURCC = "MJPG"  # intra-frame only: exact seeking, and every frame decodes on its own


class VideoError(Exception):
    """A video that cannot be used; the message is the reason."""


def check_file(path):
    if not os.path.exists(path):
        raise VideoError("missing file")
    if os.path.getsize(path) == 0:
        raise VideoError("zero-byte file")


def read_video(path, max_frames=None):
    """All frames of a video (T, H, W, 3) and its fps. Raises VideoError."""
    check_file(path)
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise VideoError("not a readable video")
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frames = []
        while max_frames is None or len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise VideoError("no decodable frame")
    # A file cut short still opens and decodes its first frames; its header knows better.
    # One frame of slack: some containers' headers round the count.
    if max_frames is None and expected > 0 and len(frames) < expected - 1:
        raise VideoError(f"truncated: decoded {len(frames)} of {expected} frames")
    return np.stack(frames), fps


def read_frames(path, indices, backend="cv2"):
    """Frames at ``indices`` (sorted or not, repeats allowed) -> (len(indices), H, W, 3)."""
    indices = np.asarray(indices, dtype=int)
    check_file(path)
    if backend == "decord":
        import decord
        try:
            reader = decord.VideoReader(path, num_threads=1)
            return reader.get_batch(list(indices)).asnumpy()
        except Exception as err:  # decord raises its own DECORDError and RuntimeError
            raise VideoError(f"decord: {str(err).splitlines()[0]}") from err
    frames, _ = read_video(path, max_frames=int(indices.max()) + 1)
    if indices.max() >= len(frames):
        raise VideoError(f"frame {indices.max()} requested, video has {len(frames)}")
    return frames[indices]


def write_video(path, frames, fps):
    """Write RGB frames (T, H, W, 3) with the project's codec (MJPG in an .avi container)."""
    T, H, W, _ = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*WRITE_FOURCC), float(fps), (W, H))
    if not writer.isOpened():
        raise VideoError(f"cannot open {path} for writing")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
