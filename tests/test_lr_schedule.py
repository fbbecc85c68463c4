"""The step and cosine schedules and the linear warm-up (engine/training/lr_schedule.py), by hand."""
import math

from engine.training.lr_schedule import lr_at

STEP = dict(lr=0.02, lr_factor=0.1, lr_steps=[9, 11], epochs=12, lr_schedule="step")


def test_the_step_schedule_is_set_by_epoch_whatever_the_step():
    assert lr_at(STEP, 0) == 0.02 and lr_at(STEP, 8, 39, 40) == 0.02
    assert math.isclose(lr_at(STEP, 9, 0, 40), 0.002)
    assert math.isclose(lr_at(STEP, 11, 20, 40), 0.0002)


def test_cosine_falls_along_half_a_cosine_step_by_step():
    t = dict(STEP, lr_schedule="cosine")
    assert lr_at(t, 0, 0, 40) == 0.02
    assert math.isclose(lr_at(t, 6, 0, 40), 0.01)  # half way: (1 + cos(pi / 2)) / 2
    assert math.isclose(lr_at(t, 3, 20, 40), 0.02 * (1 + math.cos(math.pi * 3.5 / 12)) / 2)
    assert lr_at(t, 11, 39, 40) < lr_at(t, 11, 38, 40)


def test_warm_up_ramps_to_the_schedule_over_its_epochs():
    t = dict(STEP, warmup_epochs=2)
    assert math.isclose(lr_at(t, 0, 0, 40), 0.02 / 80)  # the first step: 1 of 80 warm-up steps
    assert math.isclose(lr_at(t, 1, 0, 40), 0.02 * 41 / 80)
    assert lr_at(t, 1, 39, 40) == 0.02 and lr_at(t, 5, 0, 40) == 0.02
    cosine = dict(t, lr_schedule="cosine")
    assert math.isclose(lr_at(cosine, 0, 39, 40),
                        0.02 * (1 + math.cos(math.pi * (39 / 40) / 12)) / 2 * 40 / 80)
