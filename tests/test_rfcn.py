"""The Deformable R-FCN detector: release checkpoint naming, forward pass, box decoding, NMS."""
import mxnet as mx
import numpy as np
import pytest

from symbols.detector import rfcn


def release_entries(units=(3, 4, 23, 3), w=64, classes=81, reg=2, anchors=12, rpn=512,
                    head=1024):
    """Key -> shape of a checkpoint as the Deformable-ConvNets release writes it, spelled out
    from its architecture (Caffe ResNet-v1 names; independent of symbols.rfcn's code)."""
    entries = {}

    def conv(name, out, inp, k, bias=False):
        entries[f"arg:{name}_weight"] = (out, inp, k, k)
        if bias:
            entries[f"arg:{name}_bias"] = (out,)

    def bn(name, c):
        entries.update({f"arg:{name}_gamma": (c,), f"arg:{name}_beta": (c,),
                        f"aux:{name}_moving_mean": (c,), f"aux:{name}_moving_var": (c,)})
    conv("conv1", w, 3, 7)
    bn("bn_conv1", w)
    inp = w
    for s, n in zip((2, 3, 4, 5), units):
        mid, out = w * 2 ** (s - 2), 4 * w * 2 ** (s - 2)
        suffixes = ["a", "b", "c"][:n] if n <= 3 else ["a"] + [f"b{i}" for i in range(1, n)]
        for j, u in enumerate(suffixes):
            if j == 0:
                conv(f"res{s}{u}_branch1", out, inp, 1)
                bn(f"bn{s}{u}_branch1", out)
            conv(f"res{s}{u}_branch2a", mid, inp if j == 0 else out, 1)
            bn(f"bn{s}{u}_branch2a", mid)
            conv(f"res{s}{u}_branch2b", mid, mid, 3)
            if s == 5:
                conv(f"res{s}{u}_branch2b_offset", 72, mid, 3, bias=True)
            bn(f"bn{s}{u}_branch2b", mid)
            conv(f"res{s}{u}_branch2c", out, mid, 1)
            bn(f"bn{s}{u}_branch2c", out)
        inp = out
    conv("rpn_conv_3x3", rpn, 4 * w * 4, 3, bias=True)
    conv("rpn_cls_score", 2 * anchors, rpn, 1, bias=True)
    conv("rpn_bbox_pred", 4 * anchors, rpn, 1, bias=True)
    conv("conv_new_1", head, 4 * w * 8, 1, bias=True)
    conv("rfcn_cls", 49 * classes, head, 1, bias=True)
    conv("rfcn_bbox", 49 * 4 * reg, head, 1, bias=True)
    conv("rfcn_cls_offset_t", 2 * 49 * classes, head, 1, bias=True)
    conv("rfcn_bbox_offset_t", 2 * 49, head, 1, bias=True)
    return entries


def random_checkpoint(path, entries, seed=0):
    rng = np.random.RandomState(seed)
    values = {k: mx.nd.array(rng.standard_normal(s).astype(np.float32) * 0.01)
              for k, s in entries.items()}
    mx.nd.save(path, values)
    return values


TINY = dict(units=(1, 1, 1, 1), w=8, rpn=16, head=16)


def test_release_checkpoint_loads_every_parameter(tmp_path):
    """The ResNet-101 release naming, with its test-time box regressor copies."""
    entries = release_entries()
    path = str(tmp_path / "rfcn_dcn_coco-0000.params")
    rng = np.random.RandomState(1)
    values = random_checkpoint(path, entries)
    test_w = mx.nd.array(rng.standard_normal(entries["arg:rfcn_bbox_weight"]).astype("f"))
    test_b = mx.nd.array(rng.standard_normal(entries["arg:rfcn_bbox_bias"]).astype("f"))
    mx.nd.save(path, dict(values, **{"arg:rfcn_bbox_weight_test": test_w,
                                     "arg:rfcn_bbox_bias_test": test_b}))
    net = rfcn.DeformableRFCN(rfcn.DETECTORS["dcn_rfcn"])
    assert rfcn.load_release_params(net, path) == len(entries) == 542
    params = net.collect_params()
    np.testing.assert_array_equal(params["rfcn_bbox_weight"].data().asnumpy(), test_w.asnumpy())
    np.testing.assert_array_equal(params["rfcn_bbox_bias"].data().asnumpy(), test_b.asnumpy())
    for gluon, key in [("bn4b22_branch2c_running_var", "aux:bn4b22_branch2c_moving_var"),
                       ("res5c_branch2b_offset_weight", "arg:res5c_branch2b_offset_weight"),
                       ("res3b3_branch2a_weight", "arg:res3b3_branch2a_weight")]:
        np.testing.assert_array_equal(params[gluon].data().asnumpy(), values[key].asnumpy())


@pytest.mark.parametrize("change, message", [
    (lambda e: e.update({"arg:res3a_branch2a_weightx": e.pop("arg:res3a_branch2a_weight")}),
     "missing, first 'arg:res3a_branch2a_weight'"),
    (lambda e: e.update({"arg:extra_weight": (3,)}), "unexpected parameter(s), first "
                                                     "'arg:extra_weight'"),
    (lambda e: e.update({"aux:bn5a_branch2b_moving_var": (7,)}),
     "aux:bn5a_branch2b_moving_var has shape (7,), the network needs (64,)"),
])
def test_renamed_or_reshaped_parameter_is_a_clear_error(tmp_path, change, message):
    entries = release_entries(**TINY)
    change(entries)
    path = str(tmp_path / "bad.params")
    random_checkpoint(path, entries)
    net = rfcn.DeformableRFCN(rfcn.DETECTORS["dcn_rfcn_tiny"])
    with pytest.raises(rfcn.CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rfcn.load_release_params(net, path)


def test_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="rfcn_dcn_coco-0000.params.*Deformable-ConvNets"):
        rfcn.get_detector("dcn_rfcn", str(tmp_path / "nowhere.params"))


def test_save_load_round_trip(tmp_path):
    a = rfcn.get_detector("dcn_rfcn_tiny")
    path = str(tmp_path / "tiny.params")
    rfcn.save_release_params(a, path)
    assert set(mx.nd.load(path)) == set(release_entries(**TINY))
    b = rfcn.get_detector("dcn_rfcn_tiny", path)
    frames = np.random.RandomState(0).randint(0, 255, (1, 60, 80, 3)).astype(np.uint8)
    for da, db in zip(rfcn.detect(a, frames), rfcn.detect(b, frames)):
        np.testing.assert_allclose(da, db, rtol=1e-5, atol=1e-5)


def check_detections(dets, height, width, nms):
    assert dets.ndim == 2 and dets.shape[1] == 5 and len(dets)
    assert np.all((dets[:, 4] >= 0) & (dets[:, 4] <= 1))
    assert np.all(np.diff(dets[:, 4]) <= 0)  # best first
    assert np.all(dets[:, [0, 1]] >= 0) and np.all(dets[:, 2] <= width)
    assert np.all(dets[:, 3] <= height) and np.all(dets[:, 2] >= dets[:, 0])
    for i in range(len(dets)):  # NMS: no kept pair overlaps more than the threshold
        assert np.all(iou(dets[i], dets[i + 1:]) <= nms + 1e-6)


def iou(box, boxes):
    iw = np.maximum(0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + 1)
    ih = np.maximum(0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + 1)
    area = lambda b: (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)  # noqa: E731
    return iw * ih / (area(box) + area(boxes) - iw * ih)


def test_paper_detector_runs_end_to_end_on_a_small_image():
    """ResNet-101 Deformable R-FCN at full width, random weights, a 96 x 128 frame scaled x1."""
    net = rfcn.get_detector("dcn_rfcn", None, scale=96, max_size=128, rpn_post_nms=50)
    frames = np.random.RandomState(0).randint(0, 255, (1, 96, 128, 3)).astype(np.uint8)
    x, im_info = rfcn.preprocess(frames, net.cfg)
    rois, probs, deltas = net(mx.nd.array(x), mx.nd.array(im_info))
    assert rois.shape == (50, 5) and probs.shape == (50, 81) and deltas.shape == (50, 8)
    np.testing.assert_allclose(probs.sum(axis=1).asnumpy(), 1, rtol=1e-5)
    (dets,) = rfcn.postprocess(rois.asnumpy(), probs.asnumpy(), deltas.asnumpy(), im_info,
                               net.cfg)
    check_detections(dets, 96, 128, net.cfg.nms)


def test_batched_frames_equal_frames_alone_and_map_back_to_the_frame():
    net = rfcn.get_detector("dcn_rfcn_tiny")
    frames = np.random.RandomState(0).randint(0, 255, (3, 100, 150, 3)).astype(np.uint8)
    assert rfcn.image_scale(100, 150, net.cfg) == pytest.approx(1.28)  # 128 / 100
    together = rfcn.detect(net, frames)
    assert len(together) == 3
    for frame, dets in zip(frames, together):
        alone = rfcn.detect(net, frame[None])[0]
        np.testing.assert_allclose(alone, dets, rtol=1e-4, atol=1e-3)
        check_detections(dets, 100, 150, net.cfg.nms)


def test_image_scale_follows_the_release_rule():
    cfg = rfcn.DETECTORS["dcn_rfcn"]
    assert rfcn.image_scale(480, 640, cfg) == pytest.approx(600 / 480)  # 600 x 800
    assert rfcn.image_scale(1080, 1920, cfg) == pytest.approx(1000 / 1920)  # long side capped
    assert rfcn.image_scale(240, 320, cfg) == pytest.approx(2.5)  # upsampled


def test_decode_boxes():
    rois = np.array([[10, 20, 29, 59]], np.float64)  # 20 x 40, centre (19.5, 39.5)
    np.testing.assert_allclose(rfcn.decode_boxes(rois, np.zeros((1, 4))), rois)
    out = rfcn.decode_boxes(rois, np.array([[0.5, -0.25, np.log(2), 0]]))
    # centre moves by 0.5 * 20 and -0.25 * 40; width doubles to 40
    np.testing.assert_allclose(out, [[29.5 - 19.5, 29.5 - 19.5, 29.5 + 19.5, 29.5 + 19.5]])


def test_nms_keeps_the_best_of_overlapping_boxes():
    dets = np.array([[0, 0, 9, 9, 0.9],  # IoU 90 / 110 with the best: dropped
                     [1, 0, 10, 9, 0.95],  # the best
                     [20, 20, 29, 29, 0.5],  # far away: kept
                     [0, 0, 9, 4, 0.3]], np.float64)  # IoU 45 / 105 with the best: dropped
    assert list(rfcn.nms(dets, 0.3)) == [1, 2]
    assert list(rfcn.nms(dets, 0.9)) == [1, 0, 2, 3]


def test_proposal_anchors_are_the_releases():
    """The RPN's 4A box channels follow the release's anchor order: ratios outer (0.5, 1, 2),
    scales inner (4, 8, 16, 32), on a 16 x 16 base (w = round(sqrt(256 / r)), h = round(w r))."""
    cfg = rfcn.DETECTORS["dcn_rfcn"]
    a, size = cfg.num_anchors, 40
    fg = np.zeros((1, a, size, size), np.float32)
    fg[0, :, 20, 20] = np.linspace(1, 0.5, a)  # anchor i of one cell ranks i-th
    rois = mx.nd.contrib.MultiProposal(
        mx.nd.concat(mx.nd.zeros(fg.shape), mx.nd.array(fg), dim=1),
        mx.nd.zeros((1, 4 * a, size, size)), mx.nd.array([[640, 640, 1]]),
        feature_stride=16, scales=cfg.anchor_scales, ratios=cfg.anchor_ratios,
        rpn_pre_nms_top_n=a, rpn_post_nms_top_n=a, threshold=1.0, rpn_min_size=0).asnumpy()
    sizes = np.stack([rois[:, 3] - rois[:, 1] + 1, rois[:, 4] - rois[:, 2] + 1], axis=1)
    expected = []
    for r in cfg.anchor_ratios:
        w = np.round(np.sqrt(256 / r))
        expected += [(w * s, np.round(w * r) * s) for s in cfg.anchor_scales]
    expected = np.minimum(expected, 640)  # clipped to the image
    np.testing.assert_array_equal(sizes, expected)
