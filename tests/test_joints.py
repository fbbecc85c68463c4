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
    assert {k: len(v) for k, v in J.JOINTS.items()} == dict(mpii=16, h36m=17, penn=13, ntu=20,
                                                            coco=17)
    assert len(J.KINECT) == 25
    assert J.common_layout(["mpii", "h36m"]) == "pa17"  # Appendix B
    assert J.common_layout(["mpii", "penn"]) == "pa16"  # Sec. 5.4, 16 joints
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
    out, ok = J.to_common(points, "penn", "pa16", valid=visible, fill=-1.0)
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
