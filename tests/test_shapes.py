import pytest
import torch

from course_lib.shapes import SHAPE_CLASSES, make_shapes


def test_shapes_are_deterministic_and_well_formed():
    images, masks = make_shapes(12, size=32, seed=7)
    again, again_masks = make_shapes(12, size=32, seed=7)
    other, _ = make_shapes(12, size=32, seed=8)
    assert torch.equal(images, again) and torch.equal(masks, again_masks) and not torch.equal(images, other)
    assert images.shape == (12, 3, 32, 32) and masks.shape == (12, 32, 32) and masks.dtype == torch.long
    assert images.min() >= 0 and images.max() <= 1
    assert masks.min() >= 0 and masks.max() < len(SHAPE_CLASSES)
    assert bool(((masks > 0).flatten(1).sum(1) > 0).all())  # every image shows at least one shape


def test_all_classes_appear_and_shapes_stand_out():
    images, masks = make_shapes(60, size=48, max_shapes=1, seed=0)
    assert set(masks.unique().tolist()) == set(range(len(SHAPE_CLASSES)))
    # with one shape an image, the shape's colour differs clearly from the ground around it
    for image, mask in zip(images, masks):
        shape_colour = image[:, mask > 0].mean(1)
        ground_colour = image[:, mask == 0].mean(1)
        assert (shape_colour - ground_colour).abs().max() > 0.15


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 2, "size": 8}, {"n": 2, "max_shapes": 0}, {"n": 1.5}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_shapes(**kwargs)
