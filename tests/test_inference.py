"""course_lib.inference.in_batches: eval mode, no gradients, batches, devices, modes restored."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.inference import in_batches


class Spy(nn.Module):
    """Doubles its input and records, per call, the batch, the train mode and the grad mode."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.calls = []

    def forward(self, x, y=None):
        self.calls.append({"x": x, "y": y, "training": self.training, "grad": torch.is_grad_enabled()})
        return self.scale * x


def _rows(n=10, d=3):
    return torch.arange(n * d, dtype=torch.float32).view(n, d)


def test_batches_in_order_and_concatenated():
    model, x = Spy(), _rows(10)
    out = in_batches(model, x, batch_size=3)
    assert torch.equal(out, 2 * x)
    assert [len(call["x"]) for call in model.calls] == [3, 3, 3, 1]
    assert torch.equal(torch.cat([call["x"] for call in model.calls]), x)     # consecutive, nothing skipped
    assert len(Spy().calls) == 0 and len(in_batches(model, x[:4], batch_size=4)) == 4
    model.calls.clear()
    in_batches(model, x, batch_size=1000)
    assert len(model.calls) == 1                                                # one batch when it fits


def test_eval_mode_and_no_gradients_inside_and_the_mode_restored():
    model, x = Spy().train(), _rows(4)
    out = in_batches(model, x, batch_size=2)
    assert all(not call["training"] and not call["grad"] for call in model.calls)
    assert model.training and not out.requires_grad and torch.is_grad_enabled()
    model.eval()
    in_batches(model, x)
    assert not model.training                                                   # eval stays eval


def test_the_mode_is_restored_after_an_exception():
    model = Spy().train()

    def failing(x):
        if len(model.calls) == 1:
            raise RuntimeError("boom in the second batch")
        return model(x)

    with pytest.raises(RuntimeError, match="boom"):
        in_batches(model, _rows(4), fn=failing, batch_size=2)
    assert model.training and torch.is_grad_enabled()


def test_the_mode_of_every_submodule_is_restored():
    # A model in train mode with one part deliberately in eval mode (a frozen batch norm, say)
    # must come back exactly as it was, part by part.
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
    model.train()
    model[1].eval()
    in_batches(model, torch.rand(4, 3, generator=torch.Generator().manual_seed(0)))
    assert [m.training for m in model] == [True, False, True]


def test_fn_defaults_to_the_model_and_may_be_anything_that_uses_it():
    model, x = Spy(), _rows(5)
    assert torch.equal(in_batches(model, x, fn=lambda b: model(b) + 1, batch_size=2), 2 * x + 1)
    assert torch.equal(in_batches(model, x, fn=lambda b: b.sum(1), batch_size=2), x.sum(1))


def test_several_inputs_are_sliced_together_and_none_is_passed_through():
    model, x = Spy(), _rows(5)
    labels = torch.arange(5)
    out = in_batches(model, x, labels, fn=lambda a, b: a[:, 0] + b, batch_size=2)
    assert torch.equal(out, x[:, 0] + labels)
    model.calls.clear()
    in_batches(model, x, None, batch_size=2)
    assert [call["y"] for call in model.calls] == [None, None, None]
    assert torch.equal(in_batches(model, None, x, fn=lambda a, b: b * (a is None), batch_size=4), x)


def test_tuple_and_list_outputs_are_concatenated_field_by_field():
    model, x = Spy(), _rows(7)
    first, second = in_batches(model, x, fn=lambda b: (b, b.sum(1)), batch_size=3)
    assert torch.equal(first, x) and torch.equal(second, x.sum(1))
    pair = in_batches(model, x, fn=lambda b: [b[:, :1], (b[:, 1], b[:, 2])], batch_size=3)
    assert isinstance(pair, list) and torch.equal(pair[0], x[:, :1])
    assert isinstance(pair[1], tuple) and torch.equal(pair[1][1], x[:, 2])
    with pytest.raises(TypeError, match="fn returned a float"):
        in_batches(model, x, fn=lambda b: float(b.sum()))


def test_batches_go_to_the_device_and_come_back_to_the_cpu():
    # the "meta" device holds shapes without data: a device other than the CPU on any machine
    model, x = Spy(), _rows(4)
    out = in_batches(model, x, fn=lambda b: b, batch_size=2, device="meta", to_cpu=False)
    assert out.device.type == "meta" and out.shape == (4, 3)
    seen = []
    in_batches(model, x, fn=lambda b: seen.append(b.device) or torch.zeros(len(b)), batch_size=2, device="meta")
    assert seen == [torch.device("meta")] * 2
    # by default: the model's device (the CPU here), and the outputs on the CPU
    assert in_batches(model, x).device.type == "cpu" and model.calls[-1]["x"].device.type == "cpu"


def test_the_default_device_is_the_models():
    seen = []
    model = nn.Linear(3, 1).to("meta")
    out = in_batches(model, _rows(2), fn=lambda b: seen.append(b.device) or b, to_cpu=False)
    assert seen == [torch.device("meta")] and out.device.type == "meta"


@pytest.mark.parametrize("inputs,error,match", [
    ((_rows(4), torch.arange(3)), ValueError, "share their first dimension"),
    ((_rows(0),), ValueError, "non-empty"),
    ((torch.tensor(1.0),), ValueError, "share their first dimension"),
    ((_rows(4), torch.tensor(1.0)), ValueError, "share their first dimension"),
    ((), ValueError, "at least one input tensor"),
    ((None,), ValueError, "at least one input tensor"),
    ((_rows(2), [1, 2]), TypeError, "takes tensors"),
])
def test_bad_inputs_are_refused(inputs, error, match):
    with pytest.raises(error, match=match):
        in_batches(Spy(), *inputs)


def test_bad_model_and_batch_size_are_refused():
    with pytest.raises(TypeError, match="needs the model"):
        in_batches(lambda x: x, _rows(2))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        in_batches(Spy(), _rows(2), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        in_batches(Spy(), _rows(2), batch_size=2.0)
