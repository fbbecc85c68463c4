"""The person detector: Deformable R-FCN ResNet-101 (rfcn.py, its released weights in
rfcn_release.py, test-time boxes and NMS in detection.py) and the detectors by name
(person_detector.py). The names are here, importable without MXNet."""
import os

GLUONCV = "gluoncv:"  # gluoncv:NAME, a GluonCV COCO detector
RFCN_DETECTORS = ("dcn_rfcn", "dcn_rfcn_tiny")
DEFAULT_WEIGHTS = {"dcn_rfcn": os.path.join("work", "models", "rfcn_dcn_coco-0000.params"),
                   "dcn_rfcn_tiny": None}
