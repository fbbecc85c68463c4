# Action Machine: set-up, tests and the paper's stages.
#   make install                      CPU build into .venv
#   make install MXNET=mxnet-cu112    GPU build (CUDA 11.2)
#   make test                         the test suite (CPU, no downloads), in file order
#   make test-shuffled [SEED=N]       the same in a shuffled order (pytest-randomly's seed N)
#   make demo                         the whole pipeline on the synthetic benchmark -> table
#   make demo SEEDS=3                 every row with seeds 0..2: mean +- std, paired differences
#   make demo-softargmax              Luvizon et al.'s multitask model on the same benchmark, and
#                                     Action Machine's soft-argmax decoder -> two tables
#   make summary MODEL=action_machine_r18    per-stage shapes, parameters and MACs
#   make bench                        latency, GFLOP/s, training step, memory, loader -> JSON
#   make bench-dist [DIST_CONFIG=...] [DIST_ARGS="k=v ..."]   steps/s of 1 and 2 dist_sync workers
#                                     (launch.py --local, 1 server) on the synthetic benchmark
#   make prepare DATASET=nucla RAW=/data/N-UCLA     resize videos, index, protocol splits
#   make detect DATASET=nucla         person boxes: Deformable R-FCN (weights in
#                                     work/models/rfcn_dcn_coco-0000.params); synth: DETECTOR=gt
#   make detect-coco [ARGS="--gpu 0"] person boxes on COCO val2017 ->
#                                     work/coco/person_detections_val2017.json (eval-coco's boxes)
#   make train-action CONFIG=configs/nucla_xview1_kps.yaml [ARGS="train.epochs=2 --gpus 0,1"]
#   make eval CONFIG=configs/nucla_xview1_kps.yaml
#   make train-pose / make eval-coco [POSE_CONFIG=configs/pose/coco_r50_384x288.yaml]
#   make pseudo-poses DATASET=nucla   the pose model labels every frame -> work/nucla/poses
#   make demo-video VIDEO=clip.mp4 [ARGS="--checkpoint F"]   box, poses, top-5 -> runs/demo_video
#   make onnx CONFIG=... [CHECKPOINT=F] [ARGS=--untrained]   ONNX export, checked in onnxruntime
#                                     (in .venv-onnx) against MXNet -> work/onnx/EXPERIMENT/
#   make demo-bf16                    the demo's checkpoints tested in float32 and bfloat16
#                                     -> runs/demo_dtypes/dtypes.md (after make demo)

PYTHON ?= python3
VENV ?= .venv
MXNET ?= mxnet==1.9.1
MODEL ?= action_machine_r18
DATASET ?= synth
WORK ?= work
RAW ?= $(WORK)/$(DATASET)/raw
DETECTOR ?= $(if $(filter synth,$(DATASET)),gt,dcn_rfcn)
CONFIG ?= configs/synth_xview3_kps.yaml
ARGS ?=
SEEDS ?= 1
SEED ?=
POSE_CONFIG ?= configs/pose/coco_r50_384x288.yaml
PY := $(VENV)/bin/python
VIDEO ?=
CHECKPOINT ?=
ONNX_OUT ?= $(WORK)/onnx/$(basename $(notdir $(CONFIG)))
# onnxruntime's Python 3.11 wheels need numpy >= 1.24.2, MXNet 1.9.1 needs < 1.24: the check
# runs in a second environment with only these (check_onnx.py imports nothing else).
VENV_ONNX ?= .venv-onnx
ONNX_CHECK_PACKAGES ?= onnxruntime==1.22.1 numpy==1.26.4 onnx==1.18.0

.PHONY: install test test-shuffled demo summary prepare detect detect-coco train-action eval train-pose eval-coco \
	pseudo-poses bench bench-dist clean demo-video onnx onnx-env demo-bf16 demo-softargmax

install: $(VENV)/.installed

# tools/find_python.sh: PYTHON if MXNet 1.9.1's pins install on it (3.10, 3.11), else the
# newest such python3.X on PATH, else one line saying which versions work.
$(VENV)/.installed: requirements.txt Makefile
	@py=$$(bash tools/find_python.sh "$(PYTHON)") && echo "$$py -m venv $(VENV)" && \
	  "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(MXNET)" -r requirements.txt
	$(PY) -c "import mxnet, gluoncv, cv2, pycocotools, decord; print('mxnet', mxnet.__version__, 'ok')"
	touch $@

test: install
	$(PY) -m pytest -q -p no:randomly tests

test-shuffled: install
	$(PY) -m pytest -q -p randomly $(if $(SEED),--randomly-seed=$(SEED)) tests

demo: install
	$(PY) demo.py --seeds $(SEEDS)

demo-softargmax: install
	$(PY) demo_softargmax.py

prepare: install
	$(PY) -m data.prepare --dataset $(DATASET) --raw $(RAW) --out $(WORK)/$(DATASET)/prepared

detect: install
	$(PY) detect_persons.py --dataset $(DATASET) --prepared $(WORK)/$(DATASET)/prepared \
		--detector $(DETECTOR) $(ARGS)

detect-coco: install
	$(PY) detect_persons.py --images $(WORK)/coco/val2017 \
		--ann $(WORK)/coco/annotations/person_keypoints_val2017.json $(ARGS)

train-action: install
	$(PY) train_action.py --config $(CONFIG) $(ARGS)

eval: install
	$(PY) eval_action.py --config $(CONFIG) $(ARGS)

train-pose: install
	$(PY) train_pose.py --config $(POSE_CONFIG) $(ARGS)

eval-coco: install
	$(PY) eval_coco.py --config $(POSE_CONFIG) $(ARGS)

pseudo-poses: install
	$(PY) pseudo_poses.py --config $(POSE_CONFIG) --prepared $(WORK)/$(DATASET)/prepared \
		--boxes $(WORK)/$(DATASET)/boxes.json --out $(WORK)/$(DATASET)/poses $(ARGS)

summary: install
	$(PY) -m symbols $(MODEL)

clean:
	rm -rf $(VENV) $(VENV_ONNX) .pytest_cache

demo-video: install
	@test -n "$(VIDEO)" || { echo "error: give a video: make demo-video VIDEO=clip.mp4"; exit 1; }
	$(PY) demo_video.py "$(VIDEO)" $(ARGS)

onnx-env: $(VENV_ONNX)/.installed

$(VENV_ONNX)/.installed: Makefile
	$(PYTHON) -m venv $(VENV_ONNX)
	$(VENV_ONNX)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_ONNX)/bin/python -m pip install --quiet $(ONNX_CHECK_PACKAGES)
	$(VENV_ONNX)/bin/python -c "import onnxruntime as o, numpy as n; print('onnxruntime', \
		o.__version__, 'numpy', n.__version__, 'ok')"
	touch $@

onnx: install onnx-env
	$(PY) export_onnx.py --config $(CONFIG) $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)) \
		--out $(ONNX_OUT) $(ARGS)
	$(VENV_ONNX)/bin/python check_onnx.py $(ONNX_OUT)

bench: install
	$(PY) bench.py --out bench_results.json

demo-bf16: install
	$(PY) compare_dtypes.py $(ARGS)

# Steps/s of a dist_sync job on loopback: epochs after the first (warm-up), from metrics.jsonl.
DIST_CONFIG ?= configs/synth_xview3_rgb_person_crop.yaml
DIST_ARGS ?=
STEPS_PER_SECOND := import json, sys; e = [json.loads(l) for l in open(sys.argv[1])]; \
	steps = sum(1 for l in e if l["kind"] == "step" and l["epoch"] > 0); \
	secs = sum(l["seconds"] for l in e if l["kind"] == "epoch" and l["epoch"] > 0); \
	print(f"{sys.argv[2]} worker(s): {steps / secs:.2f} steps/s ({steps} steps in {secs:.1f} s)")
bench-dist: install
	for n in 1 2; do rm -rf $(WORK)/bench_dist/n$$n; \
	  $(PY) launch.py -n $$n -s 1 --local -- $(PY) train_action.py --config $(DIST_CONFIG) \
	    --kvstore dist_sync out=$(WORK)/bench_dist/n$$n train.epochs=8 train.log_interval=1 \
	    data.workers=0 $(DIST_ARGS) > $(WORK)/bench_dist_n$$n.log 2>&1 || \
	    { tail -3 $(WORK)/bench_dist_n$$n.log; exit 1; }; \
	  $(PY) -c '$(STEPS_PER_SECOND)' $(WORK)/bench_dist/n$$n/metrics.jsonl $$n; done
