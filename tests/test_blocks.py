"""course_lib.nn.blocks: count_parameters, mlp, the DCGAN stages and their initialization."""
import pytest
import torch
from torch import nn

from course_lib import nn as cl_nn
from course_lib.nn import blocks


def test_count_parameters_counts_trainable_numbers_only():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert blocks.count_parameters(net) == 3 * 4 + 4 + 4 * 2 + 2
    net[0].weight.requires_grad_(False)
    assert blocks.count_parameters(net) == 4 + 4 * 2 + 2
    assert blocks.count_parameters(nn.ReLU()) == 0
    assert cl_nn.count_parameters is blocks.count_parameters and cl_nn.mlp is blocks.mlp


def test_mlp_layers_activations_and_dropout():
    net = blocks.mlp([2, 8, 8, 1])
    assert [type(m) for m in net] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.LeakyReLU, nn.Linear]
    assert net[1].negative_slope == 0.2 and (net[0].in_features, net[-1].out_features) == (2, 1)
    assert net(torch.randn(5, 2)).shape == (5, 1)
    tanh = blocks.mlp([2, 4, 3], negative_slope=0.1, out_activation="tanh", dropout=0.3)
    assert [type(m) for m in tanh] == [nn.Linear, nn.LeakyReLU, nn.Dropout, nn.Linear, nn.Tanh]
    assert tanh[1].negative_slope == 0.1 and tanh[2].p == 0.3
    assert [type(m) for m in blocks.mlp([3, 1])] == [nn.Linear]          # a logit: no activation at the end


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sizes": [2, 1], "out_activation": "sigmoid"}, ValueError, "out_activation"),   # logits now: no sigmoid
    ({"sizes": [2, 1], "out_activation": "relu"}, ValueError, "out_activation"),
    ({"sizes": [2]}, ValueError, "at least"),
    ({"sizes": [2, 0, 1]}, ValueError, "layer size"),
    ({"sizes": [2, 1.5]}, TypeError, "layer size"),
    ({"sizes": [2, 1], "dropout": 1.0}, ValueError, "dropout"),
])
def test_mlp_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        blocks.mlp(**kwargs)


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_generator_block_doubles_the_map(upsample):
    block = blocks.generator_block(8, 4, upsample)
    with torch.no_grad():
        out = block(torch.randn(2, 8, 7, 7))
    assert out.shape == (2, 4, 14, 14) and float(out.min()) >= 0
    kinds = [type(m) for m in block]
    assert kinds[-2:] == [nn.BatchNorm2d, nn.ReLU]
    assert kinds[:-2] == ([nn.ConvTranspose2d] if upsample == "transposed" else [nn.Upsample, nn.Conv2d])
    conv = block[-3]
    assert conv.bias is None and (conv.in_channels, conv.out_channels) == (8, 4)
    if upsample == "transposed":
        assert (conv.kernel_size, conv.stride, conv.padding) == ((4, 4), (2, 2), (1, 1))


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
@pytest.mark.parametrize("crop, size", [(0, 32), (2, 28)])
def test_generator_output_layer_reaches_image_size_in_tanh_range(upsample, crop, size):
    layer = blocks.generator_output_layer(8, 3, upsample, crop=crop)
    with torch.no_grad():
        out = layer(torch.randn(2, 8, 16, 16) * 10)
    assert out.shape == (2, 3, size, size) and float(out.abs().max()) <= 1.0
    assert isinstance(layer[-1], nn.Tanh) and not any(isinstance(m, nn.BatchNorm2d) for m in layer)


def test_discriminator_block_halves_the_map_and_follows_the_guidelines():
    block = blocks.discriminator_block(4, 8)
    assert block(torch.randn(2, 4, 14, 14)).shape == (2, 8, 7, 7)
    assert block(torch.randn(2, 4, 7, 7)).shape == (2, 8, 3, 3)
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU]
    assert block[2].negative_slope == blocks.LEAKY_SLOPE == 0.2 and block[0].bias is None
    first = blocks.discriminator_block(1, 8, batch_norm=False)
    assert [type(m) for m in first] == [nn.Conv2d, nn.LeakyReLU] and first[0].bias is not None


def test_blocks_reject_bad_arguments():
    with pytest.raises(ValueError, match="in_channels"):
        blocks.generator_block(0, 4)
    with pytest.raises(ValueError, match="upsample"):
        blocks.generator_block(4, 4, upsample="bilinear-ish")
    with pytest.raises(TypeError, match="batch_norm"):
        blocks.discriminator_block(4, 4, batch_norm="yes")
    with pytest.raises(ValueError, match="out_channels"):
        blocks.generator_output_layer(4, -1)
    with pytest.raises(ValueError, match="crop"):
        blocks.generator_output_layer(4, 1, crop=-1)
    assert blocks.UPSAMPLING == ("transposed", "resize")


def test_init_weights_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 64, 4), nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 32, 4), nn.BatchNorm2d(32),
                        nn.Linear(32, 500), nn.LayerNorm(500))
    net.apply(blocks.init_weights)
    weights = torch.cat([m.weight.detach().flatten() for m in net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d,
                                                                                   nn.Linear))])
    assert abs(float(weights.std()) - blocks.INIT_STD) < 0.001 and abs(float(weights.mean())) < 0.001
    assert all(float(m.bias.detach().abs().max()) == 0 for m in net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d,
                                                                               nn.Linear, nn.BatchNorm2d)))
    gamma = torch.cat([m.weight.detach() for m in net if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(gamma.mean()) - 1) < 0.01 and 0.01 < float(gamma.std()) < 0.03
    assert torch.equal(net[5].weight, torch.ones(500))                  # other modules are left alone
    with pytest.raises(TypeError, match="nn.Module"):
        blocks.init_weights("not a module")
