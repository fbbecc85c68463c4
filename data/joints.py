"""Joint layouts of the pose datasets, the common layout of mixed training, and the mixing.

Appendix B: "we convert the poses to a common layout, with a fixed number of joints equal to the
dataset with more joints ... when merging the datasets Human3.6M and MPII, we use all the 17
joints in the first dataset and include one joint on MPII. All the included joints have an
invalid value that is not taken into account in the loss function. Additionally, we use an
alternated human pose layout, similar to the layout from the Penn Action dataset".

The common layouts are the authors' "pose alternated" ones (github dluvizon/deephar, branch
cvpr18, deephar/utils/pose.py: pa16j, pa17j, pa20j): the centre line, then right/left pairs.

    pa16  MPII + Penn Action (Sec. 5.4, "using 16 body joints"): MPII's 16; Penn fills 13
    pa17  MPII + Human3.6M (Appendix B): pa16 + "spine", the Human3.6M joint MPII lacks (masked)
    pa20  MPII + Human3.6M + NTU (Sec. 5.4, "using 20 body joints"): pa16 with a hand after each
          wrist and a foot after each ankle; NTU fills 20, MPII and Human3.6M 16 each

``common_layout`` picks, as the paper says, the layout as large as the dataset with most joints.

Human3.6M here is mmpose's 17-joint file: raw joints 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18,
19, 25, 26, 27 of the 32 (``H36M_RAW``; mmpose's preprocess_h36m and the common 17-joint
evaluation set), named root, ..., spine (12), thorax (13), neck_base (14), head (15). The cvpr18
code builds pa17 from the 32 raw joints itself (pose.py map_from_h36m): pelvis 0, thorax 12,
neck 13, head_top 15, spine 11, raw 14 unused; the limbs as here (hips 1/6, knees 2/7, ankles
3/8, shoulders 25/17, elbows 26/18, wrists 27/19; pa20's hands 30/22 and feet 4/9). Checked
against that file, the limbs and pelvis agree; the centre line does not, and cannot: mmpose's
file has no raw 11. Here each mmpose joint goes where MPII's definitions put it: raw 13 (where
the clavicles, raw 16 and 24, start) is MPII's thorax, raw 14 (the top of the neck) its
upper_neck, raw 15 the head top, and raw 12 (the upper spine) pa17's extra "spine" joint. So
the ruling differs from the cvpr18 code by one joint on the centre line (its thorax is the upper
spine, its neck the clavicles' junction); MPJPE is over mmpose's 17 joints, not the code's. One
dict below (TO_COMMON) holds it; tests/test_joints.py checks it joint by joint against the raw
indices.

NTU's sides are swapped, as in the cvpr18 code (map_from_ntu puts Kinect's ShoulderLeft in
r_shoul; the branch's newest pose.py, as the master branch's; an early commit, 8afb570, mapped
them unswapped): Kinect labels its joints anatomically, but NTU's colour frames are a mirror view
(colour x grows with camera x, which Kinect points to the sensor's left), so in the image the
person's left side looks like a right side to a model trained on MPII.

Layout: points (..., J, D) in a dataset's joint order; the common layout's (..., L, D) holds
``fill`` where the dataset has no joint, and a mask (..., L) says which joints are valid.
"""
import fractions
import math
import numbers

import numpy as np

MPII = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
# mmpose's names and order (raw H36M joints 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25,
# 26, 27); "foot" is the ankle joint of the mocap skeleton.
H36M_RAW = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)  # of the 32 raw joints
H36M = ("root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
        "spine", "thorax", "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist")
PENN = ("head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle")
# Kinect v2's 25 joints, the order of an NTU .skeleton file.
KINECT = ("spine_base", "spine_mid", "neck", "head", "shoulder_left", "elbow_left", "wrist_left",
          "hand_left", "shoulder_right", "elbow_right", "wrist_right", "hand_right", "hip_left",
          "knee_left", "ankle_left", "foot_left", "hip_right", "knee_right", "ankle_right",
          "foot_right", "spine_shoulder", "hand_tip_left", "thumb_left", "hand_tip_right",
          "thumb_right")
# The 20 the paper uses: Kinect's 25 without the mid spine, hand tips and thumbs (cvpr18 pa20j).
NTU = tuple(n for n in KINECT if n not in ("spine_mid", "hand_tip_left", "thumb_left",
                                           "hand_tip_right", "thumb_right"))
NTU_FROM_KINECT = np.array([KINECT.index(n) for n in NTU])  # kinect25[..., NTU_FROM_KINECT, :]
COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
# Keyed by the dataset's name (data/registry.py: its ``joints``); the synthetic person is COCO's 17.
JOINTS = {"mpii": MPII, "h36m": H36M, "penn_action": PENN, "ntu": NTU, "coco": COCO}

_LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
PA16 = ("pelvis", "thorax", "neck", "head_top") + tuple(
    f"{side}_{limb}" for limb in _LIMBS for side in ("right", "left"))
PA17 = PA16 + ("spine",)
PA20 = ("pelvis", "thorax", "neck", "head_top") + tuple(
    f"{side}_{limb}" for limb in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle",
                                  "foot") for side in ("right", "left"))
LAYOUTS = {"pa16": PA16, "pa17": PA17, "pa20": PA20}


def bones(names):
    """The skeleton of a joint layout, for drawing: (i, j) index pairs of ``names`` (COCO, the
    pa layouts or any layout named as they are) joined by a bone, found by name: each side's
    limbs; the trunk through pelvis, spine, thorax, neck and head where the layout has them
    (shoulders and hips joined across, and each side's shoulder to hip, where it has no thorax
    or pelvis: COCO); the face's nose, eyes and ears, ears to shoulders (COCO's own skeleton,
    engine.views.figures.COCO_SKELETON, for COCO's names)."""
    at = {n: i for i, n in enumerate(names)}
    pairs = [("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck"), ("neck", "head_top"),
             ("left_eye", "right_eye")]
    if "spine" not in at:
        pairs.append(("pelvis", "thorax"))
    for s in ("left", "right"):
        pairs += [(f"{s}_{a}", f"{s}_{b}") for a, b in (
            ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand"), ("hip", "knee"),
            ("knee", "ankle"), ("ankle", "foot"), ("eye", "ear"), ("ear", "shoulder"))]
        pairs += [("nose", f"{s}_eye"), ("thorax" if "thorax" in at else f"{s}_hip",
                                         f"{s}_shoulder"),
                  ("pelvis", f"{s}_hip")]
    if "thorax" not in at:
        pairs.append(("left_shoulder", "right_shoulder"))
    if "pelvis" not in at:
        pairs.append(("left_hip", "right_hip"))
    return [(at[a], at[b]) for a, b in pairs if a in at and b in at]


def _same_names(names, limbs=_LIMBS + ("hand", "foot")):
    return {f"{s}_{l}": f"{s}_{l}" for l in limbs for s in ("right", "left")
            if f"{s}_{l}" in names}


def _swapped_kinect():
    swap = {"left": "right", "right": "left"}
    return {f"{part}_{side}": f"{swap[side]}_{part}"
            for part in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle", "foot")
            for side in ("left", "right")}


# Each dataset's joint -> the common joint it fills; joints left out have no place in any layout.
TO_COMMON = {
    "mpii": dict(_same_names(MPII), pelvis="pelvis", thorax="thorax", upper_neck="neck",
                 head_top="head_top"),
    "h36m": dict(_same_names(H36M), root="pelvis", spine="spine", thorax="thorax",
                 neck_base="neck", head="head_top", right_foot="right_ankle",
                 left_foot="left_ankle"),
    "penn_action": dict(_same_names(PENN), head="head_top"),
    "ntu": dict(_swapped_kinect(), spine_base="pelvis", spine_shoulder="thorax", neck="neck",
                head="head_top"),
    "coco": _same_names(COCO),
}


def common_layout(datasets):
    """The paper's layout for mixing ``datasets``: the smallest pa layout with at least as many
    joints as the dataset with most joints (mpii+penn_action -> pa16, mpii+h36m -> pa17,
    mpii+h36m+ntu -> pa20)."""
    unknown = [d for d in datasets if d not in JOINTS]
    if unknown or not datasets:
        raise ValueError(f"unknown dataset {unknown[0] if unknown else None!r}; choose from "
                         f"{', '.join(JOINTS)}")
    most = max(len(JOINTS[d]) for d in datasets)
    return min((name for name, names in LAYOUTS.items() if len(names) >= most),
               key=lambda name: len(LAYOUTS[name]))


def mapping(dataset, layout):
    """-> (source indices, destination indices): common[..., dst, :] = points[..., src, :]."""
    if dataset not in TO_COMMON:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(TO_COMMON)}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    names, target = JOINTS[dataset], LAYOUTS[layout]
    pairs = [(i, target.index(TO_COMMON[dataset][n])) for i, n in enumerate(names)
             if TO_COMMON[dataset].get(n) in target]
    return np.array([p[0] for p in pairs], int), np.array([p[1] for p in pairs], int)


def to_common(points, dataset, layout, valid=None, fill=0.0):
    """Points (..., J, D) of ``dataset`` -> (points (..., L, D) in ``layout``, valid (..., L)).

    A common joint the dataset lacks holds ``fill`` and is invalid (Appendix B: not in the loss);
    ``valid`` (..., J), the dataset's own visibility, carries over to the joints it has. Non-finite
    points are invalid too (NTU's bodies are NaN in frames where they are absent)."""
    src, dst = mapping(dataset, layout)
    points = np.asarray(points, dtype=np.float64)
    count = len(JOINTS[dataset])
    if points.ndim < 2 or points.shape[-2] != count:
        raise ValueError(f"{dataset} points must be (..., {count}, D), not {points.shape}")
    own = np.isfinite(points).all(-1)
    if valid is not None:
        own &= np.broadcast_to(np.asarray(valid, bool), own.shape)
    out = np.full(points.shape[:-2] + (len(LAYOUTS[layout]), points.shape[-1]), fill, float)
    ok = np.zeros(out.shape[:-1], bool)
    out[..., dst, :] = np.where(own[..., src, None], points[..., src, :], fill)
    ok[..., dst] = own[..., src]
    return out, ok


def from_common(points, dataset, layout):
    """Points (..., L, D) in ``layout`` -> (..., J, D) in ``dataset``'s own joint order (the
    inverse of ``to_common``); a dataset joint the layout has no place for is a ValueError."""
    src, dst = mapping(dataset, layout)
    names = JOINTS[dataset]
    if len(src) != len(names):
        lost = [n for i, n in enumerate(names) if i not in set(src)]
        raise ValueError(f"layout {layout} has no place for {dataset}'s {', '.join(lost)}")
    points = np.asarray(points, np.float64)
    out = np.empty(points.shape[:-2] + (len(names), points.shape[-1]))
    out[..., src, :] = points[..., dst, :]
    return out


def flip_permutation(layout):
    """Index p with mirrored[k] = original[p[k]]: right_* and left_* joints trade places."""
    names = LAYOUTS[layout]
    other = {"right": "left", "left": "right"}
    return np.array([names.index(other[n.split("_")[0]] + n[n.index("_"):])
                     if n.split("_")[0] in other else k for k, n in enumerate(names)])


MAX_PERIOD = 10000  # samples in one cycle of exact proportions


def mixing_quotas(ratios):
    """Ratios -> the smallest whole counts in the same proportions: (50, 50) -> (1, 1),
    (0.75, 0.25) -> (3, 1), (45, 45, 10) -> (9, 9, 2)."""
    if not ratios:
        raise ValueError("mixing needs at least one ratio")
    fracs = []
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not math.isfinite(r) \
                or r <= 0:
            raise ValueError(f"mixing ratios must be finite numbers > 0, not {r!r}")
        exact = r if isinstance(r, (int, fractions.Fraction)) else float(r)
        fracs.append(fractions.Fraction(exact).limit_denominator(1000))
        if fracs[-1] == 0:
            raise ValueError(f"mixing ratio {r!r} is below 1/1000: give ratios as shares")
    common = math.lcm(*(f.denominator for f in fracs))
    counts = [int(f * common) for f in fracs]
    g = math.gcd(*counts)
    counts = tuple(c // g for c in counts)
    if sum(counts) > MAX_PERIOD:
        raise ValueError(f"mixing ratios {tuple(ratios)} need a cycle of {sum(counts)} samples "
                         f"(more than {MAX_PERIOD}); round them")
    return counts


def mix_draws(ratios, first, count, seed=0):
    """Samples ``first`` .. ``first + count - 1`` of the mixed stream -> (dataset index (count,),
    draw number (count,)): sample n is the k-th draw from its dataset, counting from 0.

    The stream is cut into cycles of sum(quotas) samples, each holding exactly
    ``mixing_quotas(ratios)`` samples of each dataset in an order shuffled by (seed, cycle); so
    draw k of dataset d lies in cycle k // quota[d]."""
    if count < 0 or first < 0:
        raise ValueError(f"first and count must be >= 0, not {first}, {count}")
    quotas = mixing_quotas(ratios)
    period = sum(quotas)
    cycle = np.repeat(np.arange(len(quotas)), quotas)
    last = first + count - 1
    datasets, draws = [], []
    for c in range(first // period, last // period + 1 if count else first // period):
        order = np.random.RandomState([seed, c]).permutation(cycle)
        before = np.array([(order[:i] == order[i]).sum() for i in range(period)])
        datasets.append(order)
        draws.append(c * np.asarray(quotas)[order] + before)
    if not count:
        return np.zeros(0, int), np.zeros(0, int)
    start = first % period
    return (np.concatenate(datasets)[start:start + count],
            np.concatenate(draws)[start:start + count])


def mix_batch(ratios, batch_size, step, seed=0):
    """The dataset index of each sample of batch ``step`` (batch_size,), as a pure function.

    Samples are numbered across steps (sample n = step * batch_size + i) and taken in cycles of
    sum(quotas) samples, each cycle holding exactly ``mixing_quotas(ratios)`` samples of each
    dataset in an order shuffled by (seed, cycle) (``mix_draws``). So the shares are exact over
    every whole cycle (and off by less than one cycle at any step), the same for a given seed,
    and every batch whose size is a multiple of the cycle holds the exact shares (MPII/H36M
    50/50 or MPII/Penn 75/25 in batches of 24, paper Appendix B)."""
    if batch_size < 1 or step < 0:
        raise ValueError(f"batch_size must be >= 1 and step >= 0, not {batch_size}, {step}")
    return mix_draws(ratios, step * batch_size, batch_size, seed)[0]
