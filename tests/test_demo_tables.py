"""demo_tables.py (the demo's tables, seeds' mean +- std, the claims with their intervals), the CAM-mass means
of visualize.py, the pose oracle's input path of diagnose_pose.py and the centred pose input,
against hand computations."""
import math

import mxnet as mx
import numpy as np
import pytest
from scipy import stats

from data.pose_targets import encode_clip
from engine.demo import tables as dt
from engine.views.cam import mean_shares
from symbols import get_model
from tools.diagnose_pose import gt_pose_input


def results(rgb, pose=None):
    top1 = {"rgb": rgb}
    if pose is not None:
        top1.update(pose=pose, fused=(rgb + pose) / 2)
    return {"top1": top1}


def test_mean_std_by_hand():
    a = np.array([0.70, 0.64, 0.75])
    m, s = dt.mean_std(a)
    assert math.isclose(m, (0.70 + 0.64 + 0.75) / 3)
    by_hand = math.sqrt(sum((x - m) ** 2 for x in a) / 2)  # ddof 1
    assert math.isclose(s, by_hand)
    assert math.isnan(dt.mean_std([0.5])[1])


def test_interval_and_verdict_by_hand():
    d = [10.0, 2.0, 9.0]
    m = sum(d) / 3
    se = math.sqrt(sum((x - m) ** 2 for x in d) / 2) / math.sqrt(3)
    diff, ci, p = dt.interval(d)
    # Student's t, 2 degrees of freedom: 4.3027 two-sided 95 % (any table); the p of t = m / se
    # from the t distribution's closed form with 2 degrees of freedom: 1 - t / sqrt(2 + t^2).
    t = m / se
    assert math.isclose(diff, m)
    assert math.isclose(ci[0], m - 4.302653 * se, rel_tol=1e-5)
    assert math.isclose(ci[1], m + 4.302653 * se, rel_tol=1e-5)
    assert math.isclose(p, 1 - t / math.sqrt(2 + t * t), rel_tol=1e-6)
    assert dt.verdict(ci) == ("shown" if ci[0] > 0 else "undecided")
    assert dt.interval([3.0, 3.0])[1:] == ([3.0, 3.0], 0.0)
    assert dt.interval([0.0, 0.0])[2] == 1.0
    assert math.isnan(dt.interval([5.0])[1][0])
    assert dt.verdict([0.5, 4.0]) == "shown" and dt.verdict([-4.0, -0.5]) == "refuted"
    assert dt.verdict([-1.0, 2.0]) == "undecided" and dt.verdict([math.nan] * 2) == "undecided"


def seed_of(rights_a, rights_b, label=0):
    """A seed's two rows from the per-video right/wrong of each (the top-1 follows)."""
    def row(rights):
        videos = [dict(id=f"v{i}", label=label, rgb=label if r else label + 1)
                  for i, r in enumerate(rights)]
        return {"top1": {"rgb": float(np.mean(rights))}, "per_video": videos}
    return [("A", row(rights_a)), ("B", row(rights_b))]


def test_a_claim_over_the_videos_with_one_seed():
    # 10 videos: a alone right on 3, b alone right on 0, both right on 5, both wrong on 2.
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    b = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    c = dt.claim("A over B", [seed_of(a, b)], ("A", "rgb"), ("B", "rgb"))
    d = 100 * (np.array(a) - np.array(b))  # per video: 100 three times, else 0
    half = 2.262157 * d.std(ddof=1) / math.sqrt(10)  # t, 9 degrees of freedom
    assert c["over"] == "videos" and (c["seeds"], c["videos"]) == (1, 10)
    assert math.isclose(c["diff"], 30.0)
    assert np.allclose(c["ci95"], [30.0 - half, 30.0 + half], rtol=1e-5)
    assert math.isclose(c["p"], 2 * 0.5 ** 3)  # McNemar: 3 discordant videos, all a's
    assert c["verdict"] == ("shown" if 30.0 - half > 0 else "undecided")
    assert (c["a"], c["b"]) == ("A: rgb", "B: rgb")
    assert set(c) >= {"claim", "a", "b", "diff", "ci95", "p", "seeds", "videos"}


def test_a_claim_over_seeds_and_its_videos_test():
    seeds = [seed_of([1, 1, 1, 0], [1, 0, 0, 0]), seed_of([1, 1, 0, 0], [1, 1, 0, 0]),
             seed_of([1, 1, 1, 1], [0, 1, 1, 1])]
    c = dt.claim("A over B", seeds, ("A", "rgb"), ("B", "rgb"))
    d = np.array([75 - 25, 50 - 50, 100 - 75], float)  # per seed, points
    half = 4.302653 * d.std(ddof=1) / math.sqrt(3)
    assert c["over"] == "seeds" and (c["seeds"], c["videos"]) == (3, 4)
    assert math.isclose(c["diff"], d.mean())
    assert np.allclose(c["ci95"], [d.mean() - half, d.mean() + half], rtol=1e-5)
    # Over the videos: per video the share of seeds right, a less b.
    per_video = 100 * (np.array([3, 3, 2, 1]) - np.array([2, 2, 1, 1])) / 3
    v_half = 3.182446 * per_video.std(ddof=1) / 2  # t, 3 degrees of freedom; sqrt(4 videos)
    assert math.isclose(c["videos_diff"], per_video.mean())
    assert np.allclose(c["videos_ci95"], [per_video.mean() - v_half, per_video.mean() + v_half])
    t = per_video.mean() / (per_video.std(ddof=1) / 2)
    assert math.isclose(c["videos_p"], 2 * stats.t.sf(t, 3))
    text = dt.claims_table([c]).splitlines()
    assert text[2].startswith(f"| A over B | {d.mean():+.1f} | [{d.mean() - half:+.1f}, "
                              f"{d.mean() + half:+.1f}] |")
    assert "3 seeds" in text[2] and c["verdict"] in text[2]


def test_single_and_multi_seed_tables():
    seed0 = [("RGB row", results(0.338)), ("pose row", results(0.700, 0.362))]
    seed1 = [("RGB row", results(0.400)), ("pose row", results(0.650, 0.400))]
    single = dt.table(seed0, "title").splitlines()
    assert single[2] == "| RGB row | 33.8 | - |"
    assert single[3] == f"| pose row | 70.0 | 36.2 / {100 * (0.700 + 0.362) / 2:.1f} |"
    multi = dt.seeds_table([seed0, seed1], "title").splitlines()
    assert multi[0].startswith("| title (2 seeds, mean +- std) |")
    rgb_std = np.std([33.8, 40.0], ddof=1)
    assert multi[2] == f"| RGB row | 36.9 +- {rgb_std:.1f} | - | - |"
    pose_std = np.std([36.2, 40.0], ddof=1)
    assert f"| 38.1 +- {pose_std:.1f} |" in multi[3]


def test_cam_mass_means_and_table():
    shares = [(0.5, 0.1), (0.7, 0.3), (math.nan, math.nan)]  # the third map had no mass
    m = mean_shares(shares)
    assert math.isclose(m["person"], 0.6) and math.isclose(m["object"], 0.2)
    assert (m["scored"], m["total"]) == (2, 3)
    assert math.isnan(mean_shares([(math.nan, math.nan)])["person"])
    row = dict(gt=m, pred=mean_shares([(0.25, 0.5), (0.75, 0.0), (0.5, 0.1)]),
               uniform=mean_shares([(0.4, 0.05)] * 3))
    lines = dt.cam_table([("random crop", row)]).splitlines()
    assert lines[2] == ("| random crop | 60.0 / 20.0 | 50.0 / 20.0 | 40.0 / 5.0 | "
                        "scored 2 (GT) / 3 (predicted) of 3 |")


def test_the_oracle_input_is_the_decoder_path_of_the_same_keypoints():
    net = get_model("action_machine_tiny", heads=("rgb", "kps", "pose"), num_classes=10,
                    input_size=64, num_frames=2)
    size, stride, radius = 64, net.stride, net.radius
    rng = np.random.RandomState(0)
    kps = np.concatenate([rng.uniform(4, 60, (2, 17, 2)), np.ones((2, 17, 1))], -1)  # in crop
    heat, offsets, _ = encode_clip(kps.astype(np.float32), (size // stride,) * 2, stride, radius)
    x = gt_pose_input(net.decoder, mx.nd.array(heat[None]), mx.nd.array(offsets[None]))
    assert x.shape == (1, 3, 2, 17)  # (N, 3, T, K): the pose CNN's input
    by_hand = np.stack([kps[..., 0] / size, kps[..., 1] / size, np.ones((2, 17))])
    np.testing.assert_allclose(x.asnumpy()[0], by_hand, atol=1e-5)
    assert net.pose_cnn(x).shape == (1, 10)  # and the model's own pose CNN takes it


def test_centred_pose_input_subtracts_the_clip_mean_and_ignores_a_shift_of_the_body():
    from symbols.pose_cnn import PoseCNN
    net = PoseCNN(10, layers=(1, 1, 1, 1), base_width=4, pose_input="centred")
    net.initialize()
    x = np.random.RandomState(1).uniform(0, 1, (2, 3, 4, 17)).astype(np.float32)
    shifted = x.copy()
    shifted[:, 0] += 0.1  # the whole body 10 % to the right, 5 % down
    shifted[:, 1] += 0.05
    a, b = net(mx.nd.array(x)).asnumpy(), net(mx.nd.array(shifted)).asnumpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    absolute = PoseCNN(10, layers=(1, 1, 1, 1), base_width=4)
    absolute.initialize()
    # By hand: the centred net is the absolute one on x, y less their mean over frames, joints.
    centred = x.copy()
    centred[:, :2] -= x[:, :2].mean(axis=(2, 3), keepdims=True)
    for name, p in net.collect_params().items():
        absolute.collect_params()[name.replace(net.prefix, absolute.prefix, 1)].set_data(p.data())
    np.testing.assert_allclose(absolute(mx.nd.array(centred)).asnumpy(), a, rtol=1e-4,
                               atol=1e-5)


def test_mcnemar_by_hand():
    # 10 videos: a alone right on 3, b alone right on 0, both right on 5, both wrong on 2.
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    b = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    m = dt.mcnemar(a, b)
    # Exact two-sided binomial on 3 discordant videos, all a's: 2 * (1/2)**3.
    assert (m["a_only"], m["b_only"]) == (3, 0) and math.isclose(m["p"], 2 * 0.5 ** 3)
    assert dt.mcnemar([1, 0], [1, 0])["p"] == 1.0
    # 9 of 10 discordant pairs one way: 2 * (C(10,0) + C(10,1)) / 2**10.
    m = dt.mcnemar([1] * 9 + [0], [0] * 9 + [1])
    assert math.isclose(m["p"], 2 * (1 + 10) / 2 ** 10)


def test_true_xy_input_takes_x_y_from_the_truth_and_confidence_from_the_decoder():
    from tools.diagnose_pose import with_true_xy
    rng = np.random.RandomState(2)
    decoded = rng.uniform(0, 1, (2, 3, 4, 17)).astype(np.float32)
    true = rng.uniform(0, 1, (2, 3, 4, 17)).astype(np.float32)
    x = with_true_xy(mx.nd.array(decoded), mx.nd.array(true)).asnumpy()
    assert x.shape == (2, 3, 4, 17)
    np.testing.assert_array_equal(x[:, 0], true[:, 0])
    np.testing.assert_array_equal(x[:, 1], true[:, 1])
    np.testing.assert_array_equal(x[:, 2], decoded[:, 2])


def test_linear_probe_classifier_by_hand():
    from tools.pose_probe import fit_linear
    predict = fit_linear(np.array([[-2.0], [-1.0], [1.0], [2.0]]), np.array([0, 0, 1, 1]), 2)
    p = predict(np.array([[-1.5], [0.0], [1.5]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert p[0, 0] > 0.9 and p[2, 1] > 0.9
    np.testing.assert_allclose(p[1], [0.5, 0.5], atol=1e-4)  # symmetric data: the border at 0
    # XOR: no linear border separates it, so a linear classifier is left at chance everywhere
    xor = fit_linear(np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]),
                     np.array([0, 0, 1, 1]), 2)
    np.testing.assert_allclose(xor(np.array([[1.0, 1.0], [1.0, -1.0]])), 0.5, atol=1e-4)


def test_linear_probe_reads_keypoints_as_the_pose_cnn_does():
    from tools.pose_probe import clip_xy
    rng = np.random.RandomState(0)
    box = np.array([10.0, 20.0, 50.0, 40.0])  # 40 x 20: its square crop is 40 px a side
    poses = np.concatenate([rng.uniform(12, 48, (5, 17, 2)), np.ones((5, 17, 1))], axis=2)
    idx = np.array([[0, 2, 4], [1, 2, 3]])
    cfg = {"data": {"size": 64, "crop_aspect": 1.0}, "eval": {"test_crop_scale": 256 / 224},
           "model": {"options": {"pose_input": "absolute"}}}
    xy = clip_xy(cfg, poses, box, idx).reshape(2, 3, 17, 2)
    # a difference of image pixels is that difference over the crop's 40 px side
    np.testing.assert_allclose(xy[:, :, 5] - xy[:, :, 9], (poses[idx, 5, :2] - poses[idx, 9, :2])
                               / 40, rtol=1e-4, atol=1e-6)
    mirrored = clip_xy(cfg, poses, box, idx, mirror=True).reshape(2, 3, 17, 2)
    # left and right swap; x differences change sign, y stays
    np.testing.assert_allclose(mirrored[:, :, 5, 0] - mirrored[:, :, 7, 0],
                               -(xy[:, :, 6, 0] - xy[:, :, 8, 0]), atol=1e-5)
    np.testing.assert_allclose(mirrored[:, :, 5, 1], xy[:, :, 6, 1], atol=1e-6)
    np.testing.assert_allclose(mirrored[:, :, 0, 1], xy[:, :, 0, 1], atol=1e-6)
    cfg["model"]["options"]["pose_input"] = "centred"
    centred = clip_xy(cfg, poses, box, idx).reshape(2, 3, 17, 2)
    np.testing.assert_allclose(centred.mean(axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(centred, xy - xy.mean(axis=(1, 2), keepdims=True), atol=1e-6)


def test_probe_only_report_on_a_tiny_benchmark(synth_work, tmp_path):
    import json
    import logging
    import os

    from tools import diagnose_pose
    runs = str(tmp_path)
    args = diagnose_pose.parse_args(["--work", synth_work, "--runs", runs, "--probe-only",
                                     "data.clip_len=4", "eval.num_clips=2"])
    report = diagnose_pose.run(args, logging.getLogger("diagnose_pose"))
    probe = report[diagnose_pose.PROBE]
    per_class = probe["per_class"]
    assert len(per_class) == 10 and 0.0 <= probe["train_top1"] <= 1.0
    # every class has as many test videos in the fixture, so top-1 is their plain mean
    assert math.isclose(probe["top1"], np.mean([v for v in per_class.values() if v is not None]))
    with open(os.path.join(runs, "diagnose_pose.json")) as f:
        assert json.load(f)[diagnose_pose.PROBE]["per_class"] == per_class
    assert "| linear probe" in open(os.path.join(runs, "diagnose_pose.md")).read()


def test_spread_splits_the_seeds_variance_by_hand():
    # 3 seeds x 2 videos: seed means 100, 50, 0 (sd 50). Each video is right on 2 or 1 of the 3
    # seeds: its variance over the seeds (ddof 1) is 1/3 in fractions, 3333.3 in points^2;
    # the per-video part is their sum / N^2 = 1666.7.
    x = np.array([[1, 1], [1, 0], [0, 0]])
    d = dt.spread(x)
    assert math.isclose(d["sd"], 50.0)
    assert math.isclose(d["per_video_sd"], math.sqrt(2 * 10000 / 3 / 4))
    assert math.isclose(d["sd_x2"], math.sqrt(2500 - 10000 / 6 / 2))
    assert math.isclose(d["sd_floor"], math.sqrt(2500 - 10000 / 6))
    t = 4.302653 / math.sqrt(3)  # Student's t, 2 degrees of freedom, two-sided 95 %
    assert math.isclose(d["half_width"], t * 50.0, rel_tol=1e-6)
    assert math.isclose(d["half_width_x2"], t * d["sd_x2"], rel_tol=1e-6)
    assert math.isclose(d["half_width_floor"], t * d["sd_floor"], rel_tol=1e-6)
    # every seed gets the same videos right: nothing spreads
    same = dt.spread(np.array([[1, 0, 1, 0], [1, 0, 1, 0]]))
    assert same["sd"] == same["per_video_sd"] == same["sd_floor"] == 0.0
    # one seed gets both videos, the other neither: seed means 100 and 0 (sd 70.71); each video
    # varies over the seeds by 5000 points^2, so its own part is 2 * 5000 / 4 (sd 50) and the
    # shared rest 2500 (sd 50), which no number of videos removes
    shared = dt.spread(np.array([[1, 1], [0, 0]]))
    assert math.isclose(shared["sd"], math.sqrt(5000))
    assert math.isclose(shared["per_video_sd"], 50.0)
    assert math.isclose(shared["sd_x2"], math.sqrt(5000 - 2500 / 2))
    assert math.isclose(shared["sd_floor"], 50.0)
    # seeds whose means agree, videos that swap: all of it per video, the floor clips at 0
    swap = dt.spread(np.array([[1, 0], [0, 1]]))
    assert swap["sd"] == 0.0 and swap["per_video_sd"] > 0 and swap["sd_floor"] == 0.0
    with pytest.raises(ValueError, match="2 or more seeds"):
        dt.spread(np.array([[1, 0]]))


def test_outcomes_of_a_row_and_of_a_claim_over_the_videos_every_seed_scored():
    seeds = [seed_of([1, 1, 0], [0, 1, 0]), seed_of([1, 0, 0], [1, 1, 1])]
    seeds[1][0][1]["per_video"].append(dict(id="extra", label=0, rgb=0))  # one seed only
    a = dt.outcomes_of(seeds, ("A", "rgb"))
    assert a.tolist() == [[1, 1, 0], [1, 0, 0]]
    assert dt.outcomes_of(seeds, ("A", "rgb"), ("B", "rgb")).tolist() == [[1, 0, 0], [0, -1, -1]]
