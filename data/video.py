"""Reading and writing videos. Frames are RGB uint8 arrays of layout (T, H, W, 3).

Decoding uses OpenCV (``backend="cv2"``) or decord (``backend="decord"``, faster random access).
Every reading failure is a VideoError with a one-line reason, so callers can skip and report
the file; a writing failure is an OSError naming the output, which should stop the run.
"""
import errno
import os

import cv2
import numpy as np

from common.errors import VideoError  # noqa: F401 (raised here; callers catch it from here)
from common.files import write_via_temporary

WRITE_FOURCC = "MJPG"  # intra-frame only: exact seeking, and every frame decodes on its own


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


def decoded_copy(path, copy):
    """Every frame of the video ``path`` (T, H, W, 3) from its decoded copy ``copy``, an
    uncompressed .npy read memory-mapped, so a clip reads only its own frames from the page
    cache. The copy is made (atomically) by decoding the video once, and made again when it is
    older than the video or unreadable. Raises VideoError for the video, OSError for the copy."""
    check_file(path)
    if os.path.exists(copy) and os.path.getmtime(copy) >= os.path.getmtime(path):
        try:
            frames = np.load(copy, mmap_mode="r")
            if frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8:
                return frames
        except (OSError, ValueError):
            pass  # torn or foreign: decoded again below
    frames, _ = read_video(path)
    write_via_temporary(lambda tmp: np.save(tmp, frames), copy, suffix=".npy", make_parent=True)
    return frames


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
            raise VideoError(f"decord: {str(err).strip().splitlines()[-1]}") from err
    frames, _ = read_video(path, max_frames=int(indices.max()) + 1)
    if indices.max() >= len(frames):
        raise VideoError(f"frame {indices.max()} requested, video has {len(frames)}")
    return frames[indices]


def write_video(path, frames, fps):
    """Write RGB frames (T, H, W, 3) with the project's codec (MJPG in an .avi container), whole
    or not at all: to a temporary, read back, renamed to ``path`` only when every frame decodes
    at the size written. A failure (unwritable folder, full disk) leaves no file and is an
    OSError naming ``path``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"{path}: frames must be non-empty uint8 (T, H, W, 3), got "
                         f"{frames.dtype} {frames.shape}")

    def write(tmp):
        open(tmp, "wb").close()  # OpenCV reports no reason; this raises the OS's (ENOTDIR...)
        T, H, W, _ = frames.shape
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*WRITE_FOURCC), float(fps), (W, H))
        if not writer.isOpened():
            raise OSError(errno.EIO, "OpenCV cannot open it for writing")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        # VideoWriter never reports a failed write: a full disk shows only as missing frames.
        decoded = count_frames(tmp, (H, W))
        if decoded != T:
            raise OSError(errno.EIO, f"video reads back {decoded} of {T} frames of {W}x{H} "
                                     "(disk full?)")

    write_via_temporary(write, path, suffix=os.path.splitext(path)[1])


def count_frames(path, size):
    """How many frames of ``path`` decode, up to the first one that fails or is not (H, W)."""
    cap = cv2.VideoCapture(path)
    n = 0
    try:
        while cap.isOpened():
            ok, frame = cap.read()
            if not ok or frame.shape[:2] != tuple(size):
                break
            n += 1
    finally:
        cap.release()
    return n
