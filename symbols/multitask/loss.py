"""The action loss of Luvizon et al. 2018's multitask model (paper Sec. 4.3, Appendix B).

    L = w_b sum_b [CE(pose_action_b) + CE(appearance_action_b)] + w_a CE(action)
        + w_p sum_k mean_t ElasticNet(pose_k(t), visible_k(t))

From the paper: actions are trained with "the categorical cross entropy loss" (Sec. 4.3), on
every action prediction block of both streams (intermediate supervision, Sec. 4.1, Fig. 8 shows
all four blocks of each stream and the aggregation); the aggregation is "a fully-connected layer
with Softmax activation". The weights are not given: w_b = w_a = 1 is the ruling (the cvpr18
code compiles one loss per output, and Keras weights each 1; the pose blocks' intermediate
supervision has weight 1 each too). Fine-tuning (Appendix B) trains "the full network" from RGB
frames to actions with no pose term named, so w_p = 0 is the paper's setting; w_p > 0 keeps the
pose supervision on the clip's frames (Eq. 3, ``ElasticNetPoseLoss``), averaged over the T
frames and summed over the K pose blocks as the pose model's training does.

Input: ``outputs`` name -> array (``MultitaskNet.output_names``): pose_action{b},
appearance_action{b}, action (N, N_a) logits; pose{k} (N, T, J, 3), visible{k} (N, T, J).
label (N,). Returns (total (N,), parts name -> (N,)).
"""
from mxnet import gluon

from symbols.multitask.elastic_net_loss import ElasticNetPoseLoss


class MultitaskActionLoss:
    def __init__(self, action_blocks, pose_blocks, block_weight=1.0, aggregation_weight=1.0,
                 pose_weight=0.0, visibility_weight=0.01):
        self.action_blocks, self.pose_blocks = action_blocks, pose_blocks
        self.block_weight, self.aggregation_weight = block_weight, aggregation_weight
        self.pose_weight = pose_weight
        self.ce = gluon.loss.SoftmaxCrossEntropyLoss()  # sparse labels, from logits
        self.pose = ElasticNetPoseLoss(visibility_weight)

    def __call__(self, outputs, label, target=None, mask=None, visibility=None):
        parts = {}
        for stream in ("pose_action", "appearance_action"):
            parts[f"loss_{stream}"] = sum(self.ce(outputs[f"{stream}{b + 1}"], label)
                                          for b in range(self.action_blocks))
        parts["loss_aggregation"] = self.ce(outputs["action"], label)
        total = self.block_weight * (parts["loss_pose_action"] +
                                     parts["loss_appearance_action"]) + \
            self.aggregation_weight * parts["loss_aggregation"]
        if self.pose_weight > 0:
            per_frame = sum(self.pose(outputs[f"pose{k + 1}"], outputs[f"visible{k + 1}"],
                                      target, mask, visibility)
                            for k in range(self.pose_blocks))  # (N, T)
            parts["loss_pose"] = per_frame.mean(axis=1)
            total = total + self.pose_weight * parts["loss_pose"]
        return total, parts
