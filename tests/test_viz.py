"""Figures: every helper draws headless on valid input and refuses bad input clearly."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import viz


@pytest.mark.parametrize("images", [torch.rand(5, 1, 8, 8), torch.rand(5, 3, 8, 8) * 2 - 1,
                                    torch.rand(5, 8, 8) * 255, np.random.rand(4, 1, 6, 6)])
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
