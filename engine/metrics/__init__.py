"""Every score of both systems and of COCO, importing only common/ and data/: ``scoring`` (action:
top-k, per-class, mean-class, confusion), ``pose_metrics`` (PCK / PCKh / AUC, MPJPE in NumPy),
``pose`` (those scores of predictions files, frames and images) and ``coco`` (pycocotools keypoint
AP and person-box AP)."""
