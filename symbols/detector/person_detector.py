"""Person detectors by name, each as RGB frames (B, H, W, 3) -> per frame an (n, 5) array
[x1, y1, x2, y2, score] of person boxes in frame pixels, best first.

- ``dcn_rfcn``: the paper's Deformable R-FCN, ResNet-101 (``symbols/detector/rfcn.py``), with the COCO
  weights the Deformable-ConvNets authors released and the release's test settings (shorter side
  600, longer <= 1000, class-agnostic boxes, NMS 0.3, at most 100 boxes of score >= 0.001).
  ``dcn_rfcn_tiny`` is the same code at toy size. Boxes are inclusive pixel extents, as in the
  release (width = x2 - x1 + 1).
- ``gluoncv:NAME``: a GluonCV COCO detector, e.g. ``gluoncv:faster_rcnn_resnet101_v1d_coco``
  (downloaded, or a saved .params file). Boxes are continuous (width = x2 - x1).
"""
import os

import mxnet as mx
import numpy as np

from symbols.detector import DEFAULT_WEIGHTS, GLUONCV, RFCN_DETECTORS  # noqa: F401 (re-exported)


class DetectorError(RuntimeError):
    """A detector that cannot be built or run as asked; the message says why and what to do."""


def inclusive_extents(name):
    """True when ``name``'s boxes count both end pixels (the R-FCN release's convention)."""
    return name in RFCN_DETECTORS


def gluoncv_detector(name, weights, ctx, convert=None):
    from gluoncv import model_zoo
    from gluoncv.data.transforms import presets
    try:
        net = model_zoo.get_model(name, pretrained=weights is None, pretrained_base=False)
    except ValueError as err:  # not a model of the zoo
        raise DetectorError(f"gluoncv:{name}: {str(err).strip().splitlines()[-1]}") from err
    except OSError as err:  # the download (requests' errors are OSErrors)
        raise DetectorError(f"gluoncv:{name}: could not download the weights ({err}); save "
                            f"them where there is internet and pass --weights FILE") from err
    if weights is not None:
        if not os.path.isfile(weights):
            raise DetectorError(f"gluoncv:{name}: no weights file {weights}")
        try:
            net.load_parameters(weights, ctx=ctx)
        except (mx.base.MXNetError, AssertionError) as err:  # Gluon asserts on a missing name
            # MXNet's message starts with "Traceback ..." and ends with the reason.
            raise DetectorError(f"gluoncv:{name}: {weights} does not fit the model "
                                f"({str(err).strip().splitlines()[-1]})") from err
    net.collect_params().reset_ctx(ctx)
    net.hybridize(static_alloc=True)
    person = net.classes.index("person")
    net = convert(net) if convert else net
    # Each family's own test-time preset and input size.
    preset, short = ((presets.yolo, 416) if name.startswith("yolo") else
                     (presets.ssd, int(name.split("_")[1])) if name.startswith("ssd") else
                     (presets.rcnn, 600))
    kwargs = dict(max_size=1000) if preset is presets.rcnn else {}

    def run_batch(frames):
        out = []
        for frame in frames:  # GluonCV's detectors resize per image
            x, resized = preset.transform_test(mx.nd.array(frame), short=short, **kwargs)
            ids, scores, boxes = (v[0].asnumpy() for v in net(x.as_in_context(ctx)))
            keep = ids[:, 0] == person
            scale = resized.shape[0] / frame.shape[0]
            out.append(np.hstack([boxes[keep] / scale, scores[keep]]).astype(np.float32))
        return out
    return run_batch


def rfcn_detector(name, weights, ctx, convert=None):
    from symbols.detector import rfcn
    try:
        net = rfcn.get_detector(name, weights, ctx)
    except FileNotFoundError as err:
        raise DetectorError(str(err)) from err
    except rfcn.CheckpointError as err:
        raise DetectorError(f"{name}: {err}") from err
    net = convert(net) if convert else net
    return lambda frames: rfcn.detect(net, frames, ctx)


def get_person_detector(name, weights=None, ctx=None, convert=None):
    """``name`` (dcn_rfcn, dcn_rfcn_tiny or gluoncv:NAME) -> frames -> per frame (n, 5).
    ``weights`` None: dcn_rfcn's default path; random weights for dcn_rfcn_tiny.
    ``convert``: network -> network, applied once it is loaded (e.g. to run in bfloat16)."""
    ctx = ctx or mx.cpu()
    if name.startswith(GLUONCV):
        return gluoncv_detector(name[len(GLUONCV):], weights, ctx, convert)
    if name in RFCN_DETECTORS:
        return rfcn_detector(name, weights or DEFAULT_WEIGHTS[name], ctx, convert)
    raise DetectorError(f"unknown detector {name!r}; use one of {', '.join(RFCN_DETECTORS)} "
                        f"or gluoncv:NAME")
