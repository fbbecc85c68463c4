"""I3D with a ResNet trunk, as in paper Table 1.

    conv1  5x7x7, 64, stride (1, 2, 2)     8 x 112 x 112
    pool1  1x3x3 max, stride (1, 2, 2)     8 x 56 x 56
    res2   [3x1x1, 1x3x3, 1x1x1] x 3        8 x 56 x 56   (64 / 256)
    res3   ... x 4                           8 x 28 x 28   (128 / 512)
    res4   ... x 6                           8 x 14 x 14   (256 / 1024)
    res5   ... x 3                           8 x 7 x 7     (512 / 2048)

Time is never pooled or strided ("we remove the temporal max pooling after the first stage"), so
the output keeps one feature map per input frame for the per-frame pose head.
"""
from .resnet import ResNet


def i3d_resnet(depth=50, layers=None, base_width=64, temporal_kernel=3, stem_temporal_kernel=5,
               norm_kwargs=None, **kwargs):
    """The video backbone: (N, 3, T, H, W) -> (N, 32 * base_width, T, H / 32, W / 32)."""
    return ResNet(ndim=3, depth=depth, layers=layers, base_width=base_width, in_channels=3,
                  stem_stride=2, pool=True, stage_strides=(1, 2, 2, 2),
                  temporal_kernel=temporal_kernel, stem_temporal_kernel=stem_temporal_kernel,
                  norm_kwargs=norm_kwargs, **kwargs)
