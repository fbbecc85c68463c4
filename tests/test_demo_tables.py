"""demo_tables.py (the demo's tables, seeds' mean +- std, paired differences), the CAM-mass means
of visualize.py, the pose oracle's input path of diagnose_pose.py and the centred pose input,
against hand computations."""
import math

import mxnet as mx
import numpy as np

from data.pose_targets import encode_clip
from engine import demo_tables as dt
from engine.views import mean_shares
from symbols import get_model
from tools.diagnose_pose import gt_pose_input


def results(rgb, pose=None):
    top1 = {"rgb": rgb}
    if pose is not None:
        top1.update(pose=pose, fused=(rgb + pose) / 2)
    return {"top1": top1}


def test_mean_std_and_paired_difference_by_hand():
    a = np.array([0.70, 0.64, 0.75])
    b = np.array([0.60, 0.62, 0.66])
    m, s = dt.mean_std(a)
    assert math.isclose(m, (0.70 + 0.64 + 0.75) / 3)
    by_hand = math.sqrt(sum((x - m) ** 2 for x in a) / 2)  # ddof 1
    assert math.isclose(s, by_hand)
    d = [0.10, 0.02, 0.09]
    dm = sum(d) / 3
    se = math.sqrt(sum((x - dm) ** 2 for x in d) / 2) / math.sqrt(3)
    p = dt.paired(a, b)
    assert math.isclose(p["diff"], dm) and math.isclose(p["se"], se)
    assert math.isclose(p["t"], dm / se) and p["n"] == 3
    # Student's t, 2 degrees of freedom, two-sided 95 %: 4.303 (any table).
    assert p["beyond"] == (dm / se > 4.303)
    assert not dt.paired([0.5, 0.6, 0.7], [0.49, 0.62, 0.69])["beyond"]  # differences cancel
    one = dt.paired([0.7], [0.6])
    assert math.isnan(one["se"]) and not one["beyond"] and math.isclose(one["diff"], 0.1)
    assert math.isnan(dt.mean_std([0.5])[1])


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
    comp = dt.comparisons_table([seed0, seed1], [(("pose row", "rgb"), ("RGB row", "rgb")),
                                                 (("missing", "rgb"), ("RGB row", "rgb"))])
    lines = comp.splitlines()
    assert len(lines) == 3  # a pair naming an absent row is left out
    d = np.array([70.0 - 33.8, 65.0 - 40.0])
    assert lines[2].startswith(f"| pose row rgb - RGB row rgb | {d.mean():+.1f} | "
                               f"{d.std(ddof=1) / math.sqrt(2):.1f} |")
    one = dt.comparisons_table([seed0], [(("pose row", "rgb"), ("RGB row", "rgb"))])
    assert one.splitlines()[2] == ("| pose row rgb - RGB row rgb | +36.2 | - | - | "
                                   "needs >= 2 seeds |")


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


def test_mcnemar_by_hand_and_the_videos_table():
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
    videos = [dict(id=f"v{i}", label=0, rgb=int(not x)) for i, x in enumerate(a)]
    others = [dict(id=f"v{i}", label=0, rgb=int(not x)) for i, x in enumerate(b)]
    rows = [("A", {"per_video": videos}), ("B", {"per_video": others})]
    line = dt.videos_table(rows, [(("A", "rgb"), ("B", "rgb"))]).splitlines()[2]
    assert line == "| A rgb - B rgb | +30.0 | 3 / 0 | 0.250 | no |"
