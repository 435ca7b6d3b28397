"""course_lib.metrics.embedding and .scores: IS, FID, KID against torchmetrics and torch-fidelity on identical
features, their properties and input checks, and the features themselves (random-weight models, synthetic data)."""
from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from course_lib.metrics import embedding, manifold, scores
from course_lib.metrics.classifier import CourseClassifier
from course_lib.train.ema import recalibrate_batchnorm

# torchmetrics warns that IS/KID keep every feature; with splits=1 its IS std is the std of one value.
pytestmark = [pytest.mark.filterwarnings("ignore:Metric `.*` will save all extracted features"),
              pytest.mark.filterwarnings("ignore:std\\(\\)")]


def _gaussians(n: int = 600, d: int = 16, m: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sets from two different correlated Gaussians, float64."""
    g = torch.Generator().manual_seed(seed)
    mix_a = torch.randn(d, d, generator=g, dtype=torch.float64)
    mix_b = 0.5 * torch.randn(d, d, generator=g, dtype=torch.float64) + torch.eye(d, dtype=torch.float64)
    a = torch.randn(n, d, generator=g, dtype=torch.float64) @ mix_a + 1.0
    b = torch.randn(m or n, d, generator=g, dtype=torch.float64) @ mix_b - 0.5
    return a, b


class _Rows(nn.Module):
    """A "feature extractor" that returns its input rows: torchmetrics then sees exactly our features."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _classifier_and_images(n: int = 300) -> tuple[CourseClassifier, torch.Tensor, torch.Tensor]:
    """A random-weight course classifier (width 4: 16 features) whose features and predictions vary."""
    torch.manual_seed(0)
    classifier = CourseClassifier(width=4)
    g = torch.Generator().manual_seed(1)
    real, fake = torch.rand(n, 1, 28, 28, generator=g), torch.rand(n, 1, 28, 28, generator=g) ** 2
    recalibrate_batchnorm(classifier, [torch.cat([real, fake])])   # default statistics give nearly constant features
    with torch.no_grad():
        classifier.head[-1].weight.mul_(20)                        # and nearly uniform predictions
    return classifier, real, fake


def _relative(x: float, y: float) -> float:
    return abs(x - y) / abs(y)


# ------------------------------------------------------------------------------------------------
# The reference libraries, on identical features
# ------------------------------------------------------------------------------------------------


def test_fid_agrees_with_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    a, b = _gaussians()
    metric = FrechetInceptionDistance(feature=_Rows(16))
    for start in range(0, 600, 200):   # its running sums over several updates
        metric.update(a[start:start + 200], real=True)
        metric.update(b[start:start + 200], real=False)
    reference = metric.compute()
    assert reference.dtype == torch.float64     # its states are float64; the result takes the features' dtype
    assert _relative(scores.fid(a, b), float(reference)) < 1e-4


def test_fid_through_the_course_feature_extractor_agrees_with_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    classifier, real, fake = _classifier_and_images()
    ours = scores.fid(embedding.embed(real, classifier).features, embedding.embed(fake, classifier).features)
    metric = FrechetInceptionDistance(feature=embedding.CourseFeatureExtractor(classifier))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert ours > 0.1 and _relative(ours, float(metric.compute())) < 1e-4
    # set_dtype(float64) converts the feature module too, i.e. the classifier: the extractor follows it
    double = copy.deepcopy(classifier)
    metric = FrechetInceptionDistance(feature=embedding.CourseFeatureExtractor(double)).set_dtype(torch.float64)
    assert next(double.parameters()).dtype == torch.float64
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert metric.compute().dtype == torch.float64 and _relative(ours, float(metric.compute())) < 1e-4


def test_kid_agrees_with_torchmetrics_on_whole_sets():
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = _gaussians(n=400)
    metric = KernelInceptionDistance(feature=_Rows(16), subsets=1, subset_size=400)   # a permutation of each set
    metric.update(a, real=True)
    metric.update(b, real=False)
    reference_mean, reference_std = metric.compute()
    ours = scores.kid(a, b)
    assert _relative(ours.mean, float(reference_mean)) < 1e-4 and ours.std == 0.0 == float(reference_std)


def test_inception_score_agrees_with_torchmetrics():
    from torchmetrics.image.inception import InceptionScore

    logits = 3 * torch.randn(500, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    metric = InceptionScore(feature=_Rows(10), splits=1)    # it applies the softmax to what the module returns
    metric.update(logits)
    assert _relative(scores.inception_score(logits), float(metric.compute()[0])) < 1e-6
    classifier, real, _ = _classifier_and_images()
    metric = InceptionScore(feature=embedding.CourseFeatureExtractor(classifier, output="logits"), splits=1)
    metric.update(real)
    ours = scores.inception_score(embedding.embed(real, classifier).logits)
    assert ours > 1.05 and _relative(ours, float(metric.compute()[0])) < 1e-5   # torchmetrics in float32 here


def test_inception_score_splits_agree_with_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = 3 * torch.randn(500, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = isc_features_to_metric(logits, splits=4, shuffle=False)
    ours = scores.inception_score(logits, splits=4)
    assert isinstance(ours, scores.MeanStd)
    assert _relative(ours.mean, reference["inception_score_mean"]) < 1e-9
    assert _relative(ours.std, reference["inception_score_std"]) < 1e-6   # population std, as torch-fidelity


class _Dataset(Dataset):
    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.rows[i]


def _register_rows_extractor() -> str:
    """A torch-fidelity feature extractor that returns its input rows (registered once per process)."""
    import torch_fidelity
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    class Rows(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)

        @staticmethod
        def get_provided_features_list():
            return ("rows",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "rows"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return None

        def forward(self, x):
            return (x,)

    name = "course-lib-test-rows"
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, Rows)
    return name


def test_fid_kid_and_precision_recall_agree_with_torch_fidelity_end_to_end():
    import torch_fidelity

    real, fake = _gaussians(n=300, d=6)
    fake = 1.2 * torch.randn(300, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64) @ \
        torch.linalg.cholesky(torch.cov(real.T)).T + real.mean(0) + 0.5   # overlaps real: precision, recall in (0, 1)
    out = torch_fidelity.calculate_metrics(
        input1=_Dataset(fake), input2=_Dataset(real), fid=True, kid=True, prc=True, kid_subsets=1,
        kid_subset_size=300, feature_extractor=_register_rows_extractor(), cuda=False, cache=False,
        verbose=False, save_cpu_ram=True, batch_size=100)
    assert _relative(scores.fid(real, fake), out["frechet_inception_distance"]) < 1e-6
    assert _relative(scores.kid(real, fake).mean, out["kernel_inception_distance_mean"]) < 1e-6
    precision, recall = manifold.precision_recall(real, fake)
    assert 0.5 < precision < 1.0 and 0.5 < recall < 1.0
    assert abs(precision - out["precision"]) < 1e-6 and abs(recall - out["recall"]) < 1e-6


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------


def test_fid_is_zero_for_a_set_with_itself_and_symmetric():
    a, b = _gaussians()
    assert 0.0 <= scores.fid(a, a) < 1e-9
    assert scores.fid(a, b) == pytest.approx(scores.fid(b, a), rel=1e-10)
    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.warns(scores.SingularCovarianceWarning):
        assert 0.0 <= scores.fid(x, x) < 1e-9   # no negative round-off from the 45 zero eigenvalues


def test_frechet_distance_matches_closed_forms():
    one = torch.ones(1, 1, dtype=torch.float64)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert scores.frechet_distance(torch.tensor([1.0]), 4 * one, torch.tensor([-2.0]), 9 * one) == pytest.approx(10.0)
    # diagonal covariances: |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2
    va, vb = torch.tensor([1.0, 4.0, 0.0]), torch.tensor([9.0, 1.0, 2.0])
    zeros = torch.zeros(3)
    expected = float(((va.sqrt() - vb.sqrt()) ** 2).sum())
    assert scores.frechet_distance(zeros, torch.diag(va), zeros, torch.diag(vb)) == pytest.approx(expected)
    # rotating both Gaussians together changes nothing
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))
    rotated = scores.frechet_distance(zeros, q @ torch.diag(va) @ q.T, zeros, q @ torch.diag(vb) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-6)


def test_gaussian_statistics_are_the_unbiased_mean_and_covariance():
    a, _ = _gaussians(n=50, d=4)
    mean, cov = scores.gaussian_statistics(a.float())
    assert mean.dtype == cov.dtype == torch.float64
    assert torch.allclose(mean, a.mean(0), atol=1e-6) and torch.allclose(cov, torch.cov(a.T), atol=1e-5)


def test_inception_score_extremes():
    labels = torch.arange(10).repeat(5)
    one_hot = torch.nn.functional.one_hot(labels, 10).double()
    assert scores.inception_score(one_hot, from_logits=False) == pytest.approx(10.0, rel=1e-12)
    assert scores.inception_score(100 * one_hot) == pytest.approx(10.0, rel=1e-9)
    same = torch.tensor([[0.2, 0.5, 0.3]]).repeat(40, 1)
    assert scores.inception_score(same, from_logits=False) == pytest.approx(1.0, abs=1e-12)
    assert scores.inception_score(torch.randn(1, 7).repeat(30, 1)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="probabilities"):
        scores.inception_score(torch.randn(20, 10), from_logits=False)
    with pytest.raises(ValueError, match="splits = 51"):
        scores.inception_score(one_hot, splits=51)


def test_kid_is_unbiased_for_one_distribution_and_clear_for_two():
    values = [scores.kid(*(torch.randn(2, 100, 4, generator=torch.Generator().manual_seed(s),
                                       dtype=torch.float64))).mean for s in range(30)]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    assert abs(mean) < 3 * spread / math.sqrt(len(values))   # centred on 0 (a biased MMD would sit above)
    assert min(values) < 0 < max(values)
    a, b = _gaussians(n=300)
    assert scores.kid(a, b).mean > 50 * spread


def test_kid_with_unequal_sizes_subsets_and_blocks(monkeypatch):
    a, b = _gaussians(n=120, d=5, m=90)
    kxx, kyy, kxy = ((x @ y.T / 5 + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    expected = ((kxx.sum() - kxx.trace()) / (120 * 119) + (kyy.sum() - kyy.trace()) / (90 * 89)
                - 2 * kxy.mean())
    assert scores.kid(a, b).mean == pytest.approx(float(expected), rel=1e-10)
    monkeypatch.setattr(scores, "_BLOCK_ELEMENTS", 7 * 90)   # blocks of a few rows, diagonal at an offset
    assert scores.kid(a, b).mean == pytest.approx(float(expected), rel=1e-10)
    monkeypatch.undo()
    first = scores.kid(a, b, subsets=5, subset_size=50, seed=3)
    assert first == scores.kid(a, b, subsets=5, subset_size=50, seed=3) and first.std > 0
    assert scores.kid(a, b, subsets=3).mean == pytest.approx(scores.kid(a, b, subsets=1, subset_size=90).mean, rel=0.5)
    with pytest.raises(ValueError, match="subset_size = 100"):
        scores.kid(a, b, subsets=2, subset_size=100)


def test_fid_by_sample_size_and_its_extrapolation():
    sizes = [100, 200, 400]
    fid_inf, slope = scores.fid_infinity({n: 3.0 + 50.0 / n for n in sizes})
    assert fid_inf == pytest.approx(3.0) and slope == pytest.approx(50.0)
    assert scores.fid_infinity((sizes, [3.0 + 50.0 / n for n in sizes])) == pytest.approx((3.0, 50.0))
    with pytest.raises(ValueError, match="2 different sample sizes"):
        scores.fid_infinity({100: 1.0})
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 4000, 8, generator=g, dtype=torch.float64)   # one distribution: FID_N is bias (and noise)
    measured = scores.fid_by_sample_size(a, b, sizes, repeats=3)
    assert list(measured) == sizes and measured[100] > measured[200] > measured[400] > 0
    assert measured == scores.fid_by_sample_size(a, b, sizes, repeats=3)
    fid_inf, slope = scores.fid_infinity(measured)
    assert abs(fid_inf) < 0.3 * measured[100] and slope > 0
    assert scores.fid_by_sample_size(a, b, [50], seed=None) == {50: scores.fid(a[:50], b[:50])}
    with pytest.raises(ValueError, match="sample size 5000"):
        scores.fid_by_sample_size(a, b, [5000])


# ------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------


def test_feature_checks_say_what_is_wrong():
    a, b = _gaussians(n=30, d=4)
    with pytest.raises(ValueError, match="2-D tensor"):
        scores.fid(a[None], b)
    with pytest.raises(TypeError, match="torch.Tensor"):
        scores.fid(a.tolist(), b)
    with pytest.raises(ValueError, match="at least 2 samples"):
        scores.kid(a[:1], b)
    with pytest.raises(ValueError, match="features_a has 4 feature dimensions but features_b has 3"):
        scores.fid(a, b[:, :3])
    bad = a.clone()
    bad[3, 1], bad[7, 0] = float("nan"), float("inf")
    with pytest.raises(ValueError, match="NaN or infinite values in 2 of its 30 rows"):
        scores.kid(a, bad)
    with pytest.raises(ValueError, match="in 2 of its 30 rows"):
        scores.inception_score(bad)
    with pytest.warns(scores.SingularCovarianceWarning, match="singular covariance.*more samples than feature"):
        scores.gaussian_statistics(a[:4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores.gaussian_statistics(a[:5])   # N > D: no warning


def test_covariances_that_are_none_raise():
    zeros, eye = torch.zeros(3), torch.eye(3)
    negative = torch.diag(torch.tensor([1.0, 0.5, -0.2]))
    with pytest.raises(ValueError, match="cov2 is not positive semi-definite"):
        scores.frechet_distance(zeros, eye, zeros, negative)
    with pytest.raises(ValueError, match="cov1 is not positive semi-definite"):
        scores.frechet_distance(zeros, negative, zeros, eye)
    tiny = torch.diag(torch.tensor([1.0, 0.5, -1e-9]))   # round-off: counts as 0
    assert scores.frechet_distance(zeros, tiny, zeros, tiny) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="not symmetric"):
        scores.frechet_distance(zeros, eye + torch.triu(torch.ones(3, 3), 1), zeros, eye)
    with pytest.raises(ValueError, match=r"mean1 must be \[D\] and cov1 \[D, D\]"):
        scores.frechet_distance(zeros, torch.eye(4), zeros, eye)
    # a distance negative beyond round-off is an error, a hair below 0 is 0
    assert scores._nonnegative(-1e-12, 10.0) == 0.0
    with pytest.raises(ValueError, match="came out negative"):
        scores._nonnegative(-1e-3, 10.0)


# ------------------------------------------------------------------------------------------------
# Features
# ------------------------------------------------------------------------------------------------


def test_embed_gives_features_and_logits_in_one_pass():
    classifier, real, _ = _classifier_and_images(n=50)
    calls = []
    classifier.body.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    classifier.train()
    result = embedding.embed(real, classifier, batch_size=20)
    assert calls == [20, 20, 10] and classifier.training                 # one body pass per batch, mode restored
    assert result.features.shape == (50, 16) and result.logits.shape == (50, 10) and len(result) == 50
    assert result.features.dtype == result.logits.dtype == torch.float64
    classifier.eval()
    with torch.no_grad():
        features = classifier.features(real)
        assert torch.allclose(result.features, features.double(), atol=1e-6)
        assert torch.allclose(result.logits, classifier.head(features).double(), atol=1e-5)
    tanh_range = embedding.embed(2 * real - 1, classifier, value_range=(-1, 1))
    assert torch.allclose(tanh_range.features, result.features, atol=1e-6)
    with pytest.raises(ValueError, match="value_range=\\(-1, 1\\)"):
        embedding.embed(2 * real - 1, classifier)
    with pytest.raises(TypeError, match="course classifier"):
        embedding.embed(real, nn.Linear(3, 3))


def test_the_feature_extractor_takes_images_as_the_metrics_pass_them():
    classifier, real, _ = _classifier_and_images(n=8)
    features = embedding.CourseFeatureExtractor(classifier)
    logits = embedding.CourseFeatureExtractor(classifier, output="logits")
    assert features.num_features == 16 and logits.num_features == 10
    out = features(real)
    assert out.dtype == torch.float32 and out.shape == (8, 16)
    assert torch.allclose(out.double(), embedding.embed(real, classifier).features, atol=1e-6)
    quantized = (real * 255).round().to(torch.uint8)
    assert torch.allclose(features(quantized), features(quantized.float() / 255))
    assert torch.allclose(features(real[:, 0]), out) and torch.allclose(features(real.expand(-1, 3, -1, -1)), out)
    assert logits(real).shape == (8, 10)
    with pytest.raises(ValueError, match="28x28"):
        features(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="output must be one of"):
        embedding.CourseFeatureExtractor(classifier, output="probabilities")


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")

    import urllib.request
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_inception_features_are_none_offline_without_touching_the_network(monkeypatch, tmp_path):
    _no_network(monkeypatch)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not embedding.inception_weights_available()
    assert embedding.inception_v3_features(torch.rand(2, 1, 28, 28)) is None
    with pytest.raises(AssertionError, match="tried to download"):   # only when allowed
        embedding.inception_v3_features(torch.rand(2, 1, 28, 28), allow_download=True)


def test_inception_features_from_weights_in_the_hub_cache(monkeypatch, tmp_path):
    from torchvision.models import inception_v3

    _no_network(monkeypatch)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    random_weights = inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    torch.save(random_weights, tmp_path / "checkpoints" / "inception_v3_google-0cc3c7bd.pth")
    assert embedding.inception_weights_available()
    result = embedding.inception_v3_features(2 * torch.rand(2, 1, 28, 28) - 1, value_range=(-1, 1))
    assert result.features.shape == (2, 2048) and result.logits.shape == (2, 1000)
    assert result.features.dtype == torch.float64 and bool(torch.isfinite(result.logits).all())
