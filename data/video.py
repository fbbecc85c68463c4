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


def _open(path):
    check_file(path)
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise VideoError("not a readable video")
    return cap


def iter_frames(path, step=1, max_frames=None):
    """Yield (index, RGB frame) for every ``step``-th of the first ``max_frames`` frames, decoding
    sequentially (skipped frames are not converted). Raises VideoError, also after the last
    frame when a whole-file read finds the file cut short."""
    cap = _open(path)
    n = 0
    try:
        expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        while max_frames is None or n < max_frames:
            if n % step:
                if not cap.grab():
                    break
            else:
                ok, frame = cap.read()
                if not ok:
                    break
                yield n, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise VideoError("no decodable frame")
    # A file cut short still opens and decodes its first frames; its header knows better.
    # One frame of slack: some containers' headers round the count.
    if max_frames is None and expected > 0 and n < expected - 1:
        raise VideoError(f"truncated: decoded {n} of {expected} frames")


def read_video(path, max_frames=None):
    """All frames of a video (T, H, W, 3) and its fps. Raises VideoError."""
    cap = _open(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    cap.release()
    frames = [frame for _, frame in iter_frames(path, max_frames=max_frames)]
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
