"""What demo_video.py writes of a video: each frame with the person box and the skeleton, a side
panel with each head's top 5 (NAME_annotated.mp4), and a sheet of a few labelled frames with the
top 5 as its caption (NAME_sheet.png)."""
import cv2
import numpy as np

from common.files import write_via_temporary
from data.video import count_frames
from engine.views.figures import BOX, draw_box, draw_pose
from engine.views.plots import image_grid

HEADS = (("rgb", "RGB head"), ("pose", "pose CNN"), ("fused", "fusion"))
SHEET_FRAMES = 8


def panel(height, width, ranked, box_source):
    """The side panel of the annotated video: each head's top 5 and the box's source."""
    image = np.full((height, width, 3), 24, np.uint8)
    lines = []
    for head, title in HEADS:
        if head in ranked:
            lines.append((f"{title}:", (255, 255, 255)))
            lines += [(f" {i + 1}. {c[:22]} {p:.2f}", (200, 200, 200))
                      for i, (c, p) in enumerate(ranked[head])]
    lines.append((f"box: {box_source[:32]}", BOX))
    step = height / (len(lines) + 1)
    scale = min(step / 30.0, width / 330.0)
    for i, (text, colour) in enumerate(lines):
        cv2.putText(image, text, (6, int(step * (i + 1))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    colour, 1, cv2.LINE_AA)
    return image


def annotate(frame, keypoints, box, scale):
    """A display frame with the union box and the skeleton (frame pixels scaled by ``scale``)."""
    image = draw_box(frame, (box + 0.5) * scale - 0.5)
    if keypoints is not None:
        kps = keypoints.copy()
        kps[:, :2] = (kps[:, :2] + 0.5) * scale - 0.5
        image = draw_pose(image, kps)
    return image


def label_frame(image, text):
    """A copy of ``image`` with ``text`` in its top-left corner, white on black."""
    out = image.copy()
    scale = max(0.4, image.shape[1] / 500)  # the sheet shows a frame ~300 px wide
    thick = max(1, round(scale))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(out, (0, 0), (w + 8, h + base + 8), (0, 0, 0), -1)
    cv2.putText(out, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    return out


def write_mp4(path, frames, fps):
    """RGB frames -> an MP4 (mp4v), whole or not at all: read back before it is renamed."""
    def write(tmp):
        open(tmp, "wb").close()  # OpenCV reports no reason: this raises the OS's
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
        if not writer.isOpened():
            raise OSError(5, "OpenCV cannot write MPEG-4 (mp4v) here")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        if count_frames(tmp, (h, w)) != len(frames):
            raise OSError(5, "the video reads back short (disk full?)")
    write_via_temporary(write, path, suffix=".mp4")


def write_annotated(stem, frames, fps, ranked, box_source, title):
    """``frames`` (annotated RGB frames) with the side panel -> STEM_annotated.mp4, and
    ``SHEET_FRAMES`` of them spread over the video -> STEM_sheet.png, titled ``title``.
    ``ranked``: {head: [(class, probability)] best first}. -> (video path, sheet path)."""
    side = panel(frames[0].shape[0], max(220, frames[0].shape[0]), ranked, box_source)
    video_path = f"{stem}_annotated.mp4"
    write_mp4(video_path, [np.hstack([f, side]) for f in frames], fps)
    picks = np.linspace(0, len(frames) - 1, min(SHEET_FRAMES, len(frames))).round().astype(int)
    half = (len(picks) + 1) // 2
    shown = [label_frame(frames[i], f"frame {i}") for i in picks]
    caption = "\n".join(f"{name:9s} " + "  ".join(f"{c} {p:.2f}" for c, p in ranked[head])
                        for head, name in HEADS if head in ranked)
    sheet_path = f"{stem}_sheet.png"
    image_grid([("", shown[:half]), ("", shown[half:])], sheet_path, title, cell=3.0,
               caption=caption)
    return video_path, sheet_path
