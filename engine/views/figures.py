"""What the model sees, drawn on its frames: CAMs (paper Figs. 1, 5), poses and boxes (Figs. 6-9).

    blend_cam    a class activation map over a frame, in the JET colours of the paper's figures
    draw_pose    keypoints on the COCO skeleton: left side blue, right side red, midline green
    draw_box     a person box, yellow as in Figs. 6-9
    cam_figure   frames across, one row a (model, class) -> PNG
    pose_figure  frames across, ground truth and each model's prediction down -> PNG
    poses_3d_figure  Luvizon et al.'s Figure 7: each image with its 2D pose, and beside it the
                 predicted 3D pose (the ground truth dashed where known) -> PNG

Images are RGB uint8 (H, W, 3); keypoints (K, 3) as (x, y, confidence) in the image's pixels
and boxes (x1, y1, x2, y2), pixel centres at integer coordinates, which is also OpenCV's
drawing convention. PNGs go through ``plots.image_grid`` (Agg canvas, written atomically).
"""
import cv2
import numpy as np

from data.joints import bones
from data.keypoints import COCO_KEYPOINTS
from engine.views.plots import image_grid, new_figure, save_figure

# The COCO person category's "skeleton" (1-based in the annotation files), 0-based here.
COCO_SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
                 (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
                 (3, 5), (4, 6))
LEFT, RIGHT, MIDDLE = (40, 120, 255), (255, 50, 40), (40, 210, 60)  # RGB
BOX = (255, 220, 0)
CAM_COLORMAP = "jet"  # the colour bar's name for cv2.COLORMAP_JET


def side_colour(joints, names=COCO_KEYPOINTS):
    """LEFT when every joint named is a left one, RIGHT when every one is a right one (the nose
    takes its neighbour's side), MIDDLE otherwise (the nose alone, shoulders, hips)."""
    sides = {names[j].split("_")[0] for j in joints if names[j] != "nose"}
    return LEFT if sides == {"left"} else RIGHT if sides == {"right"} else MIDDLE


def _width(image, thickness):
    return thickness or max(1, round(min(image.shape[:2]) / 120))


def draw_pose(image, keypoints, min_confidence=None, thickness=None):
    """A copy of ``image`` with the skeleton (bones, then joints on top). A joint whose third
    column is <= ``min_confidence`` is left out with its bones; None draws every joint.
    ``thickness`` of the bones in pixels (default ~1 % of the short side); joints are discs
    of about twice that diameter."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    kps = np.asarray(keypoints, np.float64)
    shown = np.ones(len(kps), bool) if min_confidence is None else kps[:, 2] > min_confidence
    shown &= np.isfinite(kps[:, :2]).all(axis=1)
    width = _width(out, thickness)
    scale = 16  # 4 fractional bits: OpenCV draws at sub-pixel positions
    point = [(int(round(x * scale)), int(round(y * scale))) if ok else None
             for (x, y), ok in zip(kps[:, :2], shown)]
    for a, b in COCO_SKELETON:
        if a < len(kps) and b < len(kps) and shown[a] and shown[b]:
            cv2.line(out, point[a], point[b], side_colour((a, b)), width, cv2.LINE_AA, 4)
    for k in np.flatnonzero(shown):
        cv2.circle(out, point[k], int(round(width * scale)), side_colour((k,)), -1,
                   cv2.LINE_AA, 4)
    return out


def draw_box(image, box, colour=BOX, thickness=None):
    """A copy of ``image`` with the box's outline."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), colour, _width(out, thickness), cv2.LINE_8)
    return out


def blend_cam(frame, cam, alpha=0.5):
    """``frame`` (H, W, 3) with ``cam`` (H, W), values in [0, 1] (clipped), in JET colours
    over it: 0 blue, 1 red."""
    heat = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(np.ascontiguousarray(frame, np.uint8), 1 - alpha, heat, alpha, 0)


def display_scale(cams):
    """CAMs (..., H, W) of one row -> [0, 1]: the positive part over the row's maximum, so the
    frames of a row share one scale and a frame without evidence stays blue."""
    cams = np.maximum(np.asarray(cams, np.float32), 0)
    peak = cams.max()
    return cams / peak if peak > 0 else cams


def enlarge(image, factor):
    """Nearest-neighbour enlargement, so small crops stay sharp in a figure."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def cam_figure(rows, path, title=None, column_titles=None):
    """``rows``: (label, frames (T, S, S, 3) uint8, cams (T, S, S)) -> PNG at ``path``, each
    row's maps on its own [0, 1] scale (``display_scale``)."""
    image_grid([(label, [blend_cam(f, c) for f, c in zip(frames, display_scale(cams))])
                for label, frames, cams in rows], path, title, column_titles,
               colour_scale=(CAM_COLORMAP, "CAM, share of the row's maximum"))


def pose_figure(rows, path, title=None, column_titles=None, factor=1):
    """``rows``: (label, frames (T, H, W, 3), keypoints (T, K, 3) in frame pixels, box (4,) or
    None) -> PNG at ``path``: each frame with the box and the skeleton, enlarged ``factor``
    times (keypoints and box with it, pixel centres kept)."""
    drawn = []
    for label, frames, keypoints, box in rows:
        images = []
        for frame, kps in zip(frames, keypoints):
            image = enlarge(frame, factor)
            if box is not None:
                image = draw_box(image, (np.asarray(box) + 0.5) * factor - 0.5)
            kps = np.array(kps, np.float32)
            kps[:, :2] = (kps[:, :2] + 0.5) * factor - 0.5
            images.append(draw_pose(image, kps))
        drawn.append((label, images))
    width = max(im.shape[1] for _, images in drawn for im in images)
    image_grid(drawn, path, title, column_titles, cell=min(4.0, max(1.6, width / 100)))


def poses_3d_figure(rows, names, path, title=None, units="mm"):
    """Figure 7: ``rows`` of (label, image (H, W, 3) uint8, uv (J, 2) its pixels, pose (J, 3),
    truth (J, 3) or None), ``names`` the joints' (the bones by name: ``data.joints.bones``) ->
    PNG at ``path``: a row a frame, the image with the 2D pose, then the 3D pose in camera axes
    (x right, y down, z forward; drawn with y up and z into the page) in ``units``, root-relative
    as given, the truth as dashed grey bones on the same axes. Joints NaN in a pose are not
    drawn."""
    if not rows:
        raise ValueError(f"{path}: no frame to draw")
    skeleton = bones(names)
    colours = [np.array(side_colour(pair, names)) / 255 for pair in skeleton]
    fig = new_figure((6.4, 3.0 * len(rows) + (0.4 if title else 0)))
    for r, (label, image, uv, pose, truth) in enumerate(rows):
        ax = fig.add_subplot(len(rows), 2, 2 * r + 1)
        ax.imshow(image, interpolation="nearest")
        for (a, b), colour in zip(skeleton, colours):
            ax.plot(uv[[a, b], 0], uv[[a, b], 1], color=colour, linewidth=2)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=8)
        ax3 = fig.add_subplot(len(rows), 2, 2 * r + 2, projection="3d")
        shown = [p for p in (pose, truth) if p is not None]
        for p, style in zip((truth, pose), ("--", "-")):
            if p is None:
                continue
            for (a, b), colour in zip(skeleton, colours):
                ax3.plot(p[[a, b], 0], p[[a, b], 2], -p[[a, b], 1], style, linewidth=2,
                         color="0.6" if style == "--" else colour)
        points = np.concatenate(shown)
        points = points[np.isfinite(points).all(axis=1)]
        centre = (points.max(0) + points.min(0)) / 2 if len(points) else np.zeros(3)
        half = max(float(np.max(points.max(0) - points.min(0))) / 2 if len(points) else 1.0,
                   1e-6)
        ax3.set_xlim(centre[0] - half, centre[0] + half)
        ax3.set_ylim(centre[2] - half, centre[2] + half)
        ax3.set_zlim(-centre[1] - half, -centre[1] + half)
        ax3.set_box_aspect((1, 1, 1))
        ax3.set_xlabel(f"x ({units})", fontsize=7)
        ax3.set_ylabel(f"z ({units})", fontsize=7)
        ax3.set_zlabel(f"-y ({units})", fontsize=7)
        ax3.tick_params(labelsize=6)
        ax3.view_init(elev=15, azim=-70)
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)

