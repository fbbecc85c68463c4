"""Joint layouts against the authors' code (deephar, branch cvpr18, deephar/utils/pose.py), the
masks of Appendix B, and the per-step dataset mixing."""
import collections

import numpy as np
import pytest

from data import joints as J

# Copied index lists of deephar/utils/pose.py (cvpr18): the independent reference.
DEEPHAR_PA16_FROM_MPII = [6, 7, 8, 9, 12, 13, 11, 14, 10, 15, 2, 3, 1, 4, 0, 5]
DEEPHAR_PA20_FROM_KINECT = [0, 20, 2, 3, 4, 8, 5, 9, 6, 10, 7, 11, 12, 16, 13, 17, 14, 18, 15, 19]
DEEPHAR_HFLIP = {"pa16": [0, 1, 2, 3, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14],
                 "pa17": [0, 1, 2, 3, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 16],
                 "pa20": [0, 1, 2, 3, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 17, 16, 19, 18]}


def index_points(count):
    """Points whose x is their own joint index, so a mapping shows where each joint went."""
    return np.stack([np.arange(count, dtype=float), np.zeros(count)], axis=-1)


def test_layout_sizes_and_the_papers_mixes():
    assert {k: len(v) for k, v in J.JOINTS.items()} == dict(mpii=16, h36m=17, penn_action=13,
                                                            ntu=20, coco=17)
    assert len(J.KINECT) == 25
    assert J.common_layout(["mpii", "h36m"]) == "pa17"  # Appendix B
    assert J.common_layout(["mpii", "penn_action"]) == "pa16"  # Sec. 5.4, 16 joints
    assert J.common_layout(["mpii", "h36m", "ntu"]) == "pa20"  # Sec. 5.4, 20 joints
    with pytest.raises(ValueError, match="unknown dataset 'lsp'"):
        J.common_layout(["mpii", "lsp"])


def test_mpii_and_ntu_land_where_the_authors_code_puts_them():
    out, ok = J.to_common(index_points(16), "mpii", "pa16")
    assert ok.all() and out[:, 0].tolist() == DEEPHAR_PA16_FROM_MPII
    kinect = index_points(25)
    out, ok = J.to_common(kinect[J.NTU_FROM_KINECT], "ntu", "pa20")
    assert ok.all() and out[:, 0].tolist() == DEEPHAR_PA20_FROM_KINECT


def test_flips_match_the_authors_code():
    for layout, expected in DEEPHAR_HFLIP.items():
        assert J.flip_permutation(layout).tolist() == expected


def test_mpii_h36m_union_masks_one_joint_on_mpii():
    """Appendix B: all 17 Human3.6M joints, and one joint included (invalid) on MPII."""
    _, ok = J.to_common(index_points(16), "mpii", "pa17")
    assert [J.PA17[k] for k in np.flatnonzero(~ok)] == ["spine"]
    out, ok = J.to_common(index_points(17), "h36m", "pa17")
    assert ok.all() and sorted(out[:, 0]) == list(range(17))  # one-to-one
    named = dict(zip(J.PA17, out[:, 0].astype(int)))
    assert J.H36M[named["thorax"]] == "thorax" and J.H36M[named["neck"]] == "neck_base"
    assert J.H36M[named["head_top"]] == "head" and J.H36M[named["right_ankle"]] == "right_foot"


def test_penn_and_coco_masks_and_visibility():
    points = index_points(13)
    visible = np.ones(13, bool)
    visible[J.PENN.index("left_knee")] = False
    out, ok = J.to_common(points, "penn_action", "pa16", valid=visible, fill=-1.0)
    missing = {J.PA16[k] for k in np.flatnonzero(~ok)}
    assert missing == {"pelvis", "thorax", "neck", "left_knee"}
    assert (out[~ok] == -1.0).all()
    assert out[J.PA16.index("head_top"), 0] == J.PENN.index("head")
    _, ok = J.to_common(index_points(17), "coco", "pa16")
    assert ok.sum() == 12


def test_batches_of_points_and_nan_joints():
    points = np.random.RandomState(0).rand(4, 3, 20, 3)  # (N, T, J, D) NTU clips
    points[1, 2, 5] = np.nan
    out, ok = J.to_common(points, "ntu", "pa20")
    assert out.shape == (4, 3, 20, 3) and ok.shape == (4, 3, 20)
    assert ok.sum() == 4 * 3 * 20 - 1 and np.isfinite(out).all()
    with pytest.raises(ValueError, match=r"ntu points must be \(\.\.\., 20, D\)"):
        J.to_common(np.zeros((25, 3)), "ntu", "pa20")


@pytest.mark.parametrize("ratios, quotas", [((50, 50), (1, 1)), ((0.75, 0.25), (3, 1)),
                                            ((45, 45, 10), (9, 9, 2)), ((1, 2), (1, 2))])
def test_mixing_quotas(ratios, quotas):
    assert J.mixing_quotas(ratios) == quotas


@pytest.mark.parametrize("ratios", [(45, 45, 10), (0.75, 0.25), (50, 50)])
def test_mixing_proportions_are_exact_over_many_steps(ratios):
    steps, batch = 100, 24
    got = np.concatenate([J.mix_batch(ratios, batch, s, seed=3) for s in range(steps)])
    counts = collections.Counter(got.tolist())
    total = steps * batch
    share = np.array(ratios, float) / sum(ratios)
    assert [counts[k] for k in range(len(ratios))] == [round(total * s) for s in share]


def test_each_batch_of_24_holds_the_papers_shares():
    for s in range(20):
        assert np.bincount(J.mix_batch((50, 50), 24, s), minlength=2).tolist() == [12, 12]
        assert np.bincount(J.mix_batch((75, 25), 24, s), minlength=2).tolist() == [18, 6]


def test_mixing_is_a_seeded_pure_function():
    a = [J.mix_batch((45, 45, 10), 24, s, seed=1) for s in range(5)]
    assert all((x == J.mix_batch((45, 45, 10), 24, s, seed=1)).all() for s, x in enumerate(a))
    b = [J.mix_batch((45, 45, 10), 24, s, seed=2) for s in range(5)]
    assert any((x != y).any() for x, y in zip(a, b))
    # One batch of 120 is the five batches of 24 that cover the same samples.
    assert (J.mix_batch((45, 45, 10), 120, 0, seed=1) == np.concatenate(a)).all()


@pytest.mark.parametrize("ratios", [(), (1, 0), (1, -2), (1, float("nan")), (True, 1),
                                    (1, 1e-9)])
def test_bad_ratios_are_errors(ratios):
    with pytest.raises(ValueError):
        J.mixing_quotas(ratios)


# deephar/utils/pose.py (cvpr18), pa17j.map_from_h36m: pa17 joint i <- raw H36M joint map[i]
# (the 32 joints of the official D3_Positions; the same in every commit of the file).
DEEPHAR_PA17_FROM_H36M_RAW = [0, 12, 13, 15, 25, 17, 26, 18, 27, 19, 1, 6, 2, 7, 3, 8, 11]


def source_of(dataset, layout):
    """{layout joint index: the dataset joint index it is filled from}."""
    src, dst = J.mapping(dataset, layout)
    return dict(zip(dst.tolist(), src.tolist()))


def test_h36m_fills_pa17_by_the_raw_skeleton_and_differs_from_cvpr18_on_the_centre_line():
    """mmpose's 17 are raw joints H36M_RAW; ours put raw 13 at the thorax, 14 at the neck and
    12 at the spine (data/joints.py); the cvpr18 code uses raw 12, 13 and 11 (absent from
    mmpose's file). Every limb joint and the pelvis agree."""
    ours = {i: J.H36M_RAW[s] for i, s in source_of("h36m", "pa17").items()}
    assert len(ours) == 17
    differ = {J.PA17[i] for i in range(17) if ours[i] != DEEPHAR_PA17_FROM_H36M_RAW[i]}
    assert differ == {"thorax", "neck", "spine"}
    assert [ours[J.PA17.index(n)] for n in ("thorax", "neck", "head_top", "spine")] == \
        [13, 14, 15, 12]


def test_from_common_inverts_to_common_and_refuses_a_lost_joint():
    points = np.random.RandomState(0).rand(3, 17, 3)
    common, _ = J.to_common(points, "h36m", "pa17")
    np.testing.assert_array_equal(J.from_common(common, "h36m", "pa17"), points)
    with pytest.raises(ValueError, match="pa20 has no place for h36m's spine"):
        J.from_common(np.zeros((20, 3)), "h36m", "pa20")


def test_mix_draws_number_each_datasets_draws_in_order():
    datasets, draws = J.mix_draws([45, 45, 10], 0, 60, seed=4)
    for d in range(3):  # the k-th sample of dataset d is its draw k
        assert draws[datasets == d].tolist() == list(range((datasets == d).sum()))
    assert np.bincount(datasets).tolist() == [27, 27, 6]  # 3 whole cycles of (9, 9, 2)
    tail = J.mix_draws([45, 45, 10], 37, 23, seed=4)
    np.testing.assert_array_equal(tail[0], datasets[37:])
    np.testing.assert_array_equal(tail[1], draws[37:])
