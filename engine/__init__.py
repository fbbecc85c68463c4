"""The shared machinery of the entry scripts: config -> objects, the training loop, checkpoints,
schedules, distributed jobs, precision and the machine, inference, scoring, metrics, figures and
the demo's rows and tables. It imports data/ and symbols/, never a script."""
