"""The person detector: Deformable R-FCN ResNet-101 (rfcn.py, its released weights in
rfcn_release.py, test-time boxes and NMS in detection.py) and the registry of detectors
(person_detector.py)."""
