"""Published COCO pose models by name: GluonCV's simple_pose family (Simple Baselines), one family
of ``symbols.get_model`` ("published_pose": ``gluoncv:simple_pose_resnet50_v1b`` and its kin).
Labelling videos with them is engine/stages/published_pose.py.
"""
PREFIX = "gluoncv:"
INPUT_SIZE = (192, 256)  # (width, height) of the published models
BOX_SCALE = 1.25  # GluonCV's detector_to_simple_pose enlarges a detection this much
COCO_AP = {"simple_pose_resnet18_v1b": 66.3, "simple_pose_resnet50_v1b": 71.0,
           "simple_pose_resnet101_v1b": 72.4, "simple_pose_resnet152_v1b": 72.5,
           "simple_pose_resnet50_v1d": 71.7, "simple_pose_resnet101_v1d": 73.0,
           "simple_pose_resnet152_v1d": 73.4}


def model_name(value):
    """'gluoncv:simple_pose_resnet50_v1b' -> 'simple_pose_resnet50_v1b'; ValueError otherwise."""
    if not value.startswith(PREFIX) or not value[len(PREFIX):].startswith("simple_pose_"):
        raise ValueError(f"--pose-model {value!r}: give gluoncv:NAME with a simple_pose model "
                         f"of GluonCV's zoo, e.g. gluoncv:simple_pose_resnet50_v1b "
                         f"({', '.join(COCO_AP)})")
    return value[len(PREFIX):]


def load(name, weights, ctx):
    """The published network on ``ctx``, hybridized: GluonCV's weights (downloaded) or the
    .params file ``weights``. One-line errors for an unknown name, a failed download, a file
    of another architecture."""
    from gluoncv import model_zoo
    try:
        net = model_zoo.get_model(name, pretrained=weights is None, pretrained_base=False)
    except ValueError as err:
        raise ValueError(f"gluoncv:{name}: {str(err).strip().splitlines()[-1]}") from None
    except OSError as err:  # the download (requests' errors are OSErrors)
        raise OSError(f"gluoncv:{name}: could not download its weights ({err}); download them "
                      f"where there is internet and give --weights FILE") from None
    if weights is not None:
        try:
            net.load_parameters(weights, ctx=ctx)
        except (OSError, AssertionError, ValueError, RuntimeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"--weights {weights}: not the weights of gluoncv:{name} "
                             f"({first})") from None
    else:
        net.collect_params().reset_ctx(ctx)
    net.hybridize(static_alloc=True)
    return net
