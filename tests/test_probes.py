"""course_lib.metrics.probes: few_labels, linear_probe_accuracy, probe_comparison (knn_accuracy: tests elsewhere)."""
import pytest
import torch

from course_lib.metrics import probes


def _separable(seed=0, classes=3, per_class=60, dim=20):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 3
    labels = torch.arange(classes).repeat_interleave(per_class)
    return centres[labels] + torch.randn(len(labels), dim, generator=g), labels, g


def test_few_labels_picks_per_class():
    labels = torch.arange(10).repeat(20)
    idx = probes.few_labels(labels, 5, seed=0)
    assert len(idx) == 50 and len(set(idx.tolist())) == 50
    assert torch.equal(torch.bincount(labels[idx]), torch.full((10,), 5))
    assert torch.equal(idx, probes.few_labels(labels, 5, seed=0))
    assert not torch.equal(idx, probes.few_labels(labels, 5, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        probes.few_labels(labels, 30)
    with pytest.raises(ValueError, match="integer"):
        probes.few_labels(labels.float(), 3)
    with pytest.raises(ValueError, match="per_class"):
        probes.few_labels(labels, 0)


def test_linear_probe_separates_separable_data_and_not_noise():
    features, labels, g = _separable()
    train_f, test_f = features[::2].clone(), features[1::2].clone()
    kept = train_f.clone(), test_f.clone()
    assert probes.linear_probe_accuracy(train_f, labels[::2], test_f, labels[1::2]) > 0.95
    assert torch.equal(train_f, kept[0]) and torch.equal(test_f, kept[1])          # features never change
    noise = torch.randn(180, 20, generator=g)
    assert probes.linear_probe_accuracy(noise[::2], labels[::2], noise[1::2], labels[1::2]) < 0.6
    # standardization with given statistics: a feature scaled by 1000 changes nothing
    scaled = features * 1000
    assert probes.linear_probe_accuracy(scaled[::2], labels[::2], scaled[1::2], labels[1::2],
                                        mean=scaled.mean(0), std=scaled.std(0)) > 0.95
    # the given std is used: dividing by 1e6 leaves the weight-decayed probe nothing to work with
    squashed = probes.linear_probe_accuracy(train_f, labels[::2], test_f, labels[1::2], mean=torch.zeros(20),
                                            std=torch.full((20,), 1e6))
    assert squashed < 0.5


def test_linear_probe_rejects_bad_inputs():
    features, labels, _ = _separable()
    with pytest.raises(ValueError, match=r"\[N, 20\]"):
        probes.linear_probe_accuracy(features, labels, features[:, :5], labels)
    with pytest.raises(ValueError, match="weight_decay"):
        probes.linear_probe_accuracy(features, labels, features, labels, weight_decay=-1)
    with pytest.raises(ValueError, match="integer class indices"):
        probes.linear_probe_accuracy(features, labels.float(), features, labels)
    with pytest.raises(ValueError, match="one per row"):
        probes.linear_probe_accuracy(features, labels[:5], features, labels)


def test_probe_comparison_ranks_informative_features_above_noise():
    features, labels, g = _separable()
    noise = torch.randn(180, 20, generator=g)
    table = probes.probe_comparison({"informative": (features, features), "noise": (noise, noise)}, labels, labels,
                                    per_class=(5, 20), seeds=(0,))
    assert set(table) == {"informative", "noise"} and set(table["noise"]) == {5, 20}
    assert table["informative"][20] > table["noise"][20] + 0.3 and table["informative"][5] > 0.9

    def probe(feats, seed):      # what the comparison does for one seed: few labels, all-image statistics
        idx = probes.few_labels(labels, 5, seed)
        return probes.linear_probe_accuracy(feats[idx], labels[idx], feats, labels, mean=feats.mean(0),
                                            std=feats.std(0))

    assert table["noise"][5] == pytest.approx(probe(noise, 0))
    averaged = probes.probe_comparison({"noise": (noise, noise)}, labels, labels, per_class=(5,), seeds=(0, 1))
    assert averaged == {"noise": {5: pytest.approx((table["noise"][5] + probe(noise, 1)) / 2)}}
    with pytest.raises(ValueError, match="at least one"):
        probes.probe_comparison({}, labels, labels)
