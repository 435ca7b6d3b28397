"""course_lib.train.schedules: lr_factor (the pure factor) and lr_schedule (a LambdaLR that resumes)."""
import itertools
import math

import pytest
import torch

from course_lib import train
from course_lib.train.schedules import lr_factor, lr_schedule


def _factors(total, **kwargs):
    return [lr_factor(step, total, **kwargs) for step in range(total + 1)]


def test_cosine_decays_along_half_a_cosine():
    factors = _factors(10)
    assert factors[0] == 1.0 and factors[5] == pytest.approx(0.5) and factors[10] == pytest.approx(0.0, abs=1e-15)
    assert factors[2] == pytest.approx(0.5 * (1 + math.cos(0.2 * math.pi)))      # 0.904508...
    assert all(a > b for a, b in itertools.pairwise(factors))
    assert lr_factor(25, 10) == pytest.approx(0.0, abs=1e-15)                       # stays there beyond the end


def test_linear_with_hold_is_flat_then_linear():
    assert _factors(10, shape="linear", hold=0.6) == pytest.approx([1.0] * 7 + [0.75, 0.5, 0.25, 0.0])
    assert _factors(10, shape="linear") == pytest.approx([1 - s / 10 for s in range(11)])
    assert lr_factor(15, 10, shape="linear", hold=0.5) == 0.0
    # the recipe of train_on_tensors: constant for 3/4 of the steps, then linear to 0
    assert _factors(8, shape="linear", hold=0.75) == pytest.approx([1.0] * 7 + [0.5, 0.0])


def test_constant_warmup_and_final():
    assert _factors(5, shape="constant") == [1.0] * 6
    assert _factors(5, shape="constant", warmup=2)[:3] == [0.5, 1.0, 1.0]
    warm = _factors(10, warmup=4)                         # cosine after a 4-step ramp, from step 4 on
    assert warm[:5] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert warm[7] == pytest.approx(0.5) and warm[10] == pytest.approx(0.0, abs=1e-15)
    final = _factors(10, final=0.1)
    assert final[5] == pytest.approx(0.55) and final[10] == pytest.approx(0.1) and lr_factor(20, 10, final=0.1) == 0.1
    assert lr_factor(8, 10, shape="linear", hold=0.5, final=0.2) == pytest.approx(0.2 + 0.8 * 0.4)
    assert _factors(4, shape="linear", hold=1.0) == [1.0] * 5            # hold everything: no decay


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((-1, 10), {}, ValueError, "step"),
    ((1.5, 10), {}, TypeError, "step"),
    ((0, 0), {}, ValueError, "total_steps"),
    ((0, 10), {"shape": "exponential"}, ValueError, "shape"),
    ((0, 10), {"hold": 1.5}, ValueError, "hold"),
    ((0, 10), {"warmup": -1}, ValueError, "warmup"),
    ((0, 10), {"final": -0.1}, ValueError, "final"),
    ((0, 10), {"final": 2.0}, ValueError, "final"),
])
def test_lr_factor_validates(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        lr_factor(*args, **kwargs)


def _optimizer(lr=2.0):
    return torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=lr)


def _rates(optimizer, scheduler, steps):
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_lr_schedule_applies_the_factor_to_every_group():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD([{"params": [model.weight], "lr": 1.0}, {"params": [model.bias], "lr": 0.1}])
    scheduler = lr_schedule(optimizer, 10, shape="linear", hold=0.5, warmup=2)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
    expected = [lr_factor(s, 10, shape="linear", hold=0.5, warmup=2) for s in range(10)]
    seen = []
    for _ in range(10):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert [a for a, _ in seen] == pytest.approx(expected)
    assert [b for _, b in seen] == pytest.approx([0.1 * f for f in expected])
    assert train.lr_schedule is lr_schedule and train.lr_factor is lr_factor


def test_lr_schedule_state_dict_round_trip_continues_the_schedule():
    straight_opt = _optimizer()
    straight = _rates(straight_opt, lr_schedule(straight_opt, 12, warmup=2, final=0.05), 12)
    first_opt = _optimizer()
    first_sched = lr_schedule(first_opt, 12, warmup=2, final=0.05)
    first = _rates(first_opt, first_sched, 5)
    opt_state, sched_state = first_opt.state_dict(), first_sched.state_dict()
    resumed_opt = _optimizer()
    resumed_sched = lr_schedule(resumed_opt, 12, warmup=2, final=0.05)
    resumed_opt.load_state_dict(opt_state)
    resumed_sched.load_state_dict(sched_state)
    assert resumed_sched.last_epoch == 5
    assert first + _rates(resumed_opt, resumed_sched, 7) == pytest.approx(straight)
    assert straight[0] == pytest.approx(1.0) and straight[-1] < straight[2]


def test_lr_schedule_validates_once_at_construction():
    with pytest.raises(TypeError, match="optimizer"):
        lr_schedule(torch.nn.Linear(1, 1), 10)
    with pytest.raises(ValueError, match="total_steps"):
        lr_schedule(_optimizer(), 0)
    with pytest.raises(ValueError, match="shape"):
        lr_schedule(_optimizer(), 10, shape="step")
    with pytest.raises(ValueError, match="hold"):
        lr_schedule(_optimizer(), 10, hold=-0.5)
