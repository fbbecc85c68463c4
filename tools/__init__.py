"""Developer measurements, run as modules from the repository root: ``python -m tools.bench``,
``python -m tools.compare_dtypes``, ``python -m tools.diagnose_pose``, ``python -m
tools.check_onnx`` (the last in .venv-onnx, importing nothing else of the project)."""
