"""Figures: every helper draws headless on valid input and refuses bad input clearly."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import viz

_G = torch.Generator().manual_seed(0)


@pytest.mark.parametrize("images", [torch.rand(5, 1, 8, 8, generator=_G), torch.rand(5, 3, 8, 8, generator=_G) * 2 - 1,
                                    torch.rand(5, 8, 8, generator=_G) * 255,
                                    np.random.default_rng(0).random((4, 1, 6, 6))])
def test_grids_accept_any_range_and_channel_count(images):
    grid = viz.image_grid(images, nrow=3)
    assert grid.ndim == 3 and grid.shape[-1] == 3 and grid.min() >= 0 and grid.max() <= 1
    assert isinstance(viz.show_grid(images, title="t"), plt.Figure)
    fig = viz.show_images(images, titles=[str(i) for i in range(len(images))], ncols=2)
    assert fig.axes[0].get_title() == "0"


def test_value_range_detection():
    assert torch.allclose(viz.to_unit_range(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(viz.to_unit_range(torch.tensor([0.0, 0.5])), torch.tensor([0.0, 0.5]))
    assert torch.allclose(viz.to_unit_range(torch.tensor([0.0, 255.0])), torch.tensor([0.0, 1.0]))
    assert torch.allclose(viz.to_unit_range(torch.tensor([0.0, 5.0]), value_range=(0, 10)), torch.tensor([0.0, 0.5]))


@pytest.mark.parametrize("bad,error", [
    (torch.rand(2, 2, 8, 8), ValueError),       # two channels
    (torch.rand(2, 1, 1, 8, 8), ValueError),    # five dimensions
    (torch.full((1, 1, 4, 4), float("nan")), ValueError),
    ([1, 2, 3], TypeError),
])
def test_bad_images_are_refused(bad, error):
    with pytest.raises(error):
        viz.image_grid(bad)


def test_titles_must_match():
    with pytest.raises(ValueError, match="titles"):
        viz.show_images(torch.rand(3, 1, 4, 4), titles=["a"])


def test_curves():
    fig = viz.plot_curves({"train": [3, 2, 1, 0.5], "test": [3, 2.5, 2, 1.8]}, title="loss", smooth=2, logy=True)
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError):
        viz.plot_curves({})
    with pytest.raises(ValueError):
        viz.plot_curves({"x": []})


def test_latent_plots():
    torch.manual_seed(0)
    z = torch.randn(50, 2)
    labels = torch.randint(0, 10, (50,))
    assert isinstance(viz.latent_scatter(z, labels, title="codes"), plt.Figure)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        viz.latent_scatter(torch.randn(50, 3), labels)
    with pytest.raises(ValueError, match="labels"):
        viz.latent_scatter(z, labels[:10])
    points = viz.latent_grid_points(-1, 1, 3)
    assert points.shape == (9, 2) and points[0].tolist() == [-1.0, 1.0] and points[-1].tolist() == [1.0, -1.0]
    seen = {}

    def decode(z):
        seen["z"] = z
        return torch.sigmoid(z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 5, 5)

    viz.show_decoded_grid(decode, n=4)
    assert seen["z"].shape == (16, 2)


def test_strips_and_segmentation_overlays():
    torch.manual_seed(0)
    fig = viz.show_strip({"a": torch.rand(4, 1, 6, 6), "b": torch.rand(3, 3, 6, 6)})
    assert len(fig.axes) == 8
    mask = torch.zeros(6, 6, dtype=torch.long)
    mask[2:4, 2:4] = 2
    blended = viz.overlay(torch.rand(3, 6, 6), mask, alpha=1.0)
    assert np.allclose(blended[3, 3], viz.SEG_COLOURS[2])
    images = torch.rand(3, 3, 6, 6)
    masks = torch.randint(0, 4, (3, 6, 6))
    fig = viz.show_segmentation(images, masks, {"model": masks}, class_names=["bg", "a", "b", "c"], n=2)
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="same H, W"):
        viz.overlay(torch.rand(3, 6, 6), torch.zeros(5, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="mask values"):
        viz.colour_mask(torch.full((2, 2), 99))


def test_show_displays_then_closes_the_figure(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(len(plt.get_fignums())))
    fig = viz.plot_curves({"a": [1, 2]})
    keep = plt.figure()
    viz.show(fig)
    assert shown == [2]                                     # displayed while open ...
    assert plt.fignum_exists(keep.number) and not plt.fignum_exists(fig.number)   # ... then closed, only it
    plt.figure()
    viz.show()                                              # no figure given: every open figure is closed
    assert shown == [2, 2] and plt.get_fignums() == []


def test_grouped_bars_draw_one_bar_per_value():
    fig = viz.grouped_bars({"U-Net": [0.9, 0.8, 0.7], "FCN": [0.6, 0.5, 0.4]}, ["bg", "circle", "square"],
                           title="IoU", ylabel="IoU", ylim=(0, 1), xlabel="class")
    ax = fig.axes[0]
    heights = [round(p.get_height(), 6) for p in ax.patches]
    assert heights == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bg", "circle", "square"]
    assert ax.get_title() == "IoU" and ax.get_ylabel() == "IoU" and ax.get_xlabel() == "class"
    assert ax.get_ylim() == (0, 1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["U-Net", "FCN"]
    assert len(ax.texts) == 6                              # the values written on the bars
    # the two series sit side by side within each group
    lefts = [p.get_x() for p in ax.patches]
    assert lefts[3] > lefts[0] and lefts[1] > lefts[3]


def test_grouped_bars_value_labels_and_an_axis_of_our_own():
    _, ax = plt.subplots()
    fig = viz.grouped_bars({"p": [0.2, 0.8]}, ["0", "1"], value_labels=False, ax=ax)
    assert fig is ax.figure and len(ax.patches) == 2 and len(ax.texts) == 0
    many = viz.grouped_bars({"a": list(range(13)), "b": list(range(13))}, [str(i) for i in range(13)])
    assert len(many.axes[0].patches) == 26 and len(many.axes[0].texts) == 0   # too many bars to label


def test_grouped_bars_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="'a' has 2 values for 3 labels"):
        viz.grouped_bars({"a": [0.5, 0.7]}, ["x", "y", "z"])
    with pytest.raises(ValueError, match="'b' has 3 values for 2 labels"):
        viz.grouped_bars({"a": [0.5, 0.7], "b": [1, 2, 3]}, ["x", "y"])
    with pytest.raises(ValueError, match="at least one named series"):
        viz.grouped_bars({}, ["x"])


def test_show_snapshots_one_row_per_snapshot():
    g = torch.Generator().manual_seed(0)
    snapshots = [(0, torch.rand(20, 1, 6, 6, generator=g) * 2 - 1), (500, torch.rand(20, 1, 6, 6, generator=g) * 2 - 1)]
    fig = viz.show_snapshots(snapshots, per_row=5, unit="epoch")
    assert len(fig.axes) == 2 * 5
    assert [ax.get_ylabel() for ax in fig.axes[::5]] == ["epoch 0", "epoch 500"]
    assert all(len(ax.images) == 1 for ax in fig.axes)
    first = fig.axes[0].images[0].get_array()
    assert np.allclose(first, (snapshots[0][1][0, 0].numpy() + 1) / 2, atol=1e-6)   # [-1, 1] shown as [0, 1]
    unit = viz.show_snapshots([(3, torch.rand(2, 1, 6, 6, generator=g))], value_range=(0, 1), per_row=4)
    assert len(unit.axes) == 2 and unit.axes[0].get_ylabel() == "step 3"


@pytest.mark.parametrize("snapshots,per_row,match", [([], 4, "no snapshots"),
                                                     ([(0, torch.zeros(2, 1, 4, 4))], 0, "per_row"),
                                                     ([(0, torch.zeros(2, 1, 4, 4))], True, "per_row")])
def test_show_snapshots_refuses_bad_input(snapshots, per_row, match):
    with pytest.raises(ValueError, match=match):
        viz.show_snapshots(snapshots, per_row=per_row)


def test_plot_gan_history():
    steps = 60
    history = {"d_loss": np.linspace(1.4, 1.2, steps), "g_loss": np.linspace(0.7, 0.9, steps),
               "d_real": [0.6] * 6, "d_fake": [0.4] * 6}
    fig = viz.plot_gan_history(history, smooth=10, outputs_unit="epoch", outputs_smooth=1)
    losses, outputs = fig.axes[:2]
    assert len(losses.lines) == 3 and len(outputs.lines) == 3          # two curves and a dashed reference each
    assert losses.lines[2].get_ydata()[0] == pytest.approx(np.log(4))
    assert outputs.lines[2].get_ydata()[0] == pytest.approx(0.5) and outputs.get_ylim() == (0, 1)
    assert len(losses.lines[0].get_ydata()) == steps - 9                # a moving average of 10
    assert len(outputs.lines[0].get_ydata()) == 6 and outputs.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="lacks \\['d_fake'\\]"):
        viz.plot_gan_history({k: v for k, v in history.items() if k != "d_fake"})
    with pytest.raises(ValueError, match="d_real"):
        viz.plot_gan_history({**history, "d_real": []})
