import warnings

import numpy as np
import pytest

from idl_utils.scores import (
    FeatureExtractor,
    comparison_row,
    fid_verdict,
    frechet_distance,
    get_feature_extractor,
    image_scores,
    kernel_distance,
    kid_verdict,
    score_sets,
    verdict_row,
)


def test_fid_of_identical_sets_is_zero_and_real():
    f = np.random.default_rng(0).normal(size=(500, 32))
    fid = frechet_distance(f, f)
    assert isinstance(fid, float) and fid == pytest.approx(0.0, abs=1e-6)


def test_fid_grows_with_a_shift_and_is_symmetric():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(800, 16)), rng.normal(size=(800, 16))
    same = frechet_distance(a, b)
    shifted = frechet_distance(a, b + 1.0)
    assert shifted > 10 * same and shifted == pytest.approx(16, rel=0.15)
    assert frechet_distance(b, a) == pytest.approx(same, rel=1e-6)
    # for Gaussians with known covariance: FID = tr(S1 + S2 - 2 (S1 S2)^1/2) = 16 (2 - 1)^2 ... here 4*16
    assert frechet_distance(a, 3 * b) == pytest.approx(16 * (1 - 3) ** 2, rel=0.15)


def test_fid_stays_real_for_rank_deficient_covariances():
    # fewer samples than dimensions: singular covariances, the case where scipy's sqrtm
    # returns complex numbers ("1989424.07 - 0.003j")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 256)) * 100, rng.normal(size=(20, 256)) * 100 + 3
    fid = frechet_distance(a, b)
    assert isinstance(fid, float) and np.isfinite(fid) and fid > 0
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6 * np.trace(np.cov(a, rowvar=False)))


def test_kid_near_zero_for_one_distribution_and_larger_when_shifted():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    kid, std = kernel_distance(a, b, n_subsets=20, subset_size=200)
    kid_shift, _ = kernel_distance(a, b + 0.5, n_subsets=20, subset_size=200)
    assert abs(kid) < 3 * std + 1e-3
    assert kid_shift > 20 * max(abs(kid), std)


def test_image_scores_with_a_toy_extractor():
    extractor = FeatureExtractor("channel means", lambda x: x.reshape(len(x), -1, 3).mean(1), 3)
    rng = np.random.default_rng(0)
    real = rng.random((64, 16, 16, 3)).astype("float32")
    s_same = image_scores(real, real, extractor)
    s_dark = image_scores(real, real * 0.5, extractor)
    assert s_same["fid"] == pytest.approx(0, abs=1e-9) and s_dark["fid"] > 0.01
    assert s_dark["features"] == "channel means"
    with pytest.raises(ValueError, match=r"\(n, h, w, 3\)"):
        extractor(real[..., 0])


def _counting_means() -> tuple[FeatureExtractor, list[int]]:
    """A real (tiny) extractor: per-channel means, recording how many images each call saw."""
    calls: list[int] = []

    def means(x):
        calls.append(len(x))
        return x.reshape(len(x), -1, 3).mean(1)

    return FeatureExtractor("channel means", means, 3), calls


def test_score_sets_reads_the_real_images_once_and_matches_image_scores():
    extractor, calls = _counting_means()
    rng = np.random.default_rng(0)
    real, other = rng.random((64, 8, 8, 3)).astype("float32"), rng.random((48, 8, 8, 3)).astype("float32")
    table = score_sets(real, {"dark": real * 0.5, "other": other}, extractor, seed=3)
    assert calls == [64, 64, 48]                                  # real once, then each set
    assert table["dark"] == image_scores(real, real * 0.5, extractor, seed=3)
    assert table["other"]["n_generated"] == 48 and table["other"]["fid"] < table["dark"]["fid"]
    assert table["other"]["kid_std"] > 0                          # subsets differ: the std is real noise


def test_score_sets_can_keep_features_and_reuses_them_only_for_the_same_images(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    extractor, calls = _counting_means()
    rng = np.random.default_rng(1)
    real, other = rng.random((32, 8, 8, 3)).astype("float32"), rng.random((24, 8, 8, 3)).astype("float32")
    first = score_sets(real, {"other": other}, extractor, seed=3, cache=True)
    assert calls == [32, 24] and len(list((tmp_path / "features").glob("*.npy"))) == 2
    again = score_sets(real, {"other": other}, extractor, seed=3, cache=True)
    assert calls == [32, 24] and again == first                   # nothing recomputed, same scores
    changed = other.copy()
    changed[0, 0, 0, 0] += 0.25                                   # one value differs: a new key
    score_sets(real, {"other": changed}, extractor, seed=3, cache=True)
    assert calls == [32, 24, 24]
    monkeypatch.setenv("IDL_RETRAIN", "1")                        # asked to recompute: it does
    score_sets(real, {"other": other}, extractor, seed=3, cache=True)
    assert calls == [32, 24, 24, 32, 24]
    assert first == score_sets(real, {"other": other}, extractor, seed=3)


def test_offline_falls_back_loudly_to_a_labelled_classifier(monkeypatch):
    monkeypatch.setenv("IDL_OFFLINE", "1")
    rng = np.random.default_rng(0)
    images = rng.random((96, 16, 16, 3)).astype("float32")
    labels = (images[:, :, :, 0].mean((1, 2)) > 0.5).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        extractor = get_feature_extractor(images, labels, "toy-label", epochs=1)
    assert any("SUBSTITUTE" in str(w.message) for w in caught)
    assert extractor.name == "toy-label CNN features"
    assert extractor(images[:5]).shape == (5, 128)
    with pytest.raises(ValueError, match="needs labels"):
        get_feature_extractor(images, None, "x")


def test_kid_verdict_calls_gaps_within_one_std_a_tie():
    low, high = {"kid": 5.0, "kid_std": 0.5}, {"kid": 7.0, "kid_std": 0.8}
    assert kid_verdict(low, high, ("kit", "course")) == "kit better"
    assert kid_verdict(high, low, ("kit", "course")) == "course better"
    assert kid_verdict(low, {"kid": 5.6, "kid_std": 0.8}) == "a tie (within 1 std)"


def test_comparison_and_verdict_rows_say_who_wins_in_each_feature_space():
    kit, course = {"fid": 40.0, "kid": 2.77, "kid_std": 0.1}, {"fid": 44.0, "kid": 2.76, "kid_std": 0.1}
    row = comparison_row("GAN", "8 epochs", "8 epochs", kit, course, 381.7, 543.9)
    assert row["FID kit"] == 40.0 and row["KID course"] == 2.76
    assert row["KID verdict"] == "a tie (within 1 std)"
    assert (row["kit seconds"], row["course seconds"]) == (382, 544)
    # without the standard network: only the substitute features' verdicts
    verdict = verdict_row(row)
    assert verdict["substitute features: FID"] == "kit better"
    assert verdict["substitute features: KID"] == "a tie (within 1 std)"
    assert "standard network: FID" not in verdict and verdict["kit seconds"] == 382
    # the standard network may disagree, and then the table says so
    std_kit = {"fid": 225.0, "kid": 0.216, "kid_std": 0.004}
    std_course = {"fid": 223.4, "kid": 0.199, "kid_std": 0.002}
    verdict = verdict_row(row, std_kit, std_course)
    assert verdict["standard network: FID"] == "course better"
    assert verdict["standard network: KID"] == "course better"
    assert fid_verdict(std_course, std_kit, ("course", "kit")) == "course better"
