"""Stage 2 (paper Sec. 4.6) runs the frozen KPS RGBAction model outside autograd's recording: the
pose CNN's loss and gradients are those of the whole network recorded, and nothing else gets a
gradient."""
import mxnet as mx
import numpy as np
from mxnet import autograd

from engine.systems import action_machine
from symbols import get_model
from symbols.action_machine import ActionMachineLoss


def test_the_frozen_forward_gives_the_pose_cnn_the_same_loss_and_gradients():
    mx.random.seed(0)
    net = get_model("action_machine_tiny", num_classes=10, input_size=64, num_frames=4,
                    global_stats="backbone", dropout=0.0)
    action_machine.freeze_for_stage(net, {"train": {"stage": "pose_cnn"}})
    net.hybridize(static_alloc=True)
    clip = mx.nd.array(np.random.RandomState(1).normal(size=(2, 3, 4, 64, 64)))
    label = mx.nd.array([3, 7])
    criterion = ActionMachineLoss(("pose",))
    grads, losses = [], []
    for stage in ("joint", "pose_cnn"):  # joint: the whole network under autograd, as before
        with autograd.record():
            total, _ = action_machine.action_loss(criterion, stage)(net, clip, label, None, None,
                                                                   None)
        total.backward()
        losses.append(total.asnumpy())
        grads.append({k: p.grad().asnumpy().copy() for k, p in net.collect_params().items()
                      if p.grad_req != "null"})
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    assert set(grads[1]) == set(grads[0]) and all("pose_cnn" in k for k in grads[0])
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-4, atol=1e-6)
