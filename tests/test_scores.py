import ast
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from idl_utils.features import FeatureExtractor
from idl_utils.scores import (
    comparison_row,
    feature_scores,
    fid_bias_note,
    fid_verdict,
    format_kid,
    frechet_distance,
    get_feature_extractor,
    image_scores,
    kernel_distance,
    kid_verdict,
    knn_radii,
    precision_recall,
    score_sets,
    score_table,
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


def test_offline_falls_back_loudly_to_a_labelled_classifier(monkeypatch, tmp_path):
    monkeypatch.setenv("IDL_OFFLINE", "1")
    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))            # no cached standard network here
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


def test_the_removed_keras_inception_choice_is_refused():
    images = np.zeros((4, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match="prefer must be one of"):
        get_feature_extractor(images, np.zeros(4, int), "toy-label", prefer="inception")


def test_kid_verdict_calls_gaps_within_one_std_a_tie():
    low, high = {"kid": 5.0, "kid_std": 0.5}, {"kid": 7.0, "kid_std": 0.8}
    assert kid_verdict(low, high, ("kit", "course")) == "kit better"
    assert kid_verdict(high, low, ("kit", "course")) == "course better"
    assert kid_verdict(low, {"kid": 5.6, "kid_std": 0.8}) == "a tie (within 1 std)"


def test_comparison_and_verdict_rows_say_who_wins_in_each_feature_space():
    kit, course = {"fid": 40.0, "kid": 2.77, "kid_std": 0.1}, {"fid": 44.0, "kid": 2.76, "kid_std": 0.1}
    row = comparison_row("GAN", "8 epochs", "8 epochs", kit, course, 381.7, 543.9)
    assert list(row)[3:6] == ["KID kit", "KID course", "KID verdict"]      # the headline first
    assert row["FID kit"] == 40.0 and row["KID course"] == "2.76 ± 0.10"
    assert row["KID verdict"] == "a tie (within 1 std)"
    assert "precision kit" not in row                             # not scored: no empty columns
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


def test_course_comparison_pairs_every_kit_snapshot_with_the_course_model_of_its_kind():
    from idl_utils.scores import course_comparison, course_verdicts

    good, bad = {"fid": 10.0, "kid": 1.0, "kid_std": 0.1}, {"fid": 50.0, "kid": 5.0, "kid_std": 0.1}
    scores = {"real vs real (floor)": good, "VAE (kit)": good, "VAE (kit, 4 epochs)": bad,
              "GAN (kit, 6 epochs)": good, "VAE (course, 3 epochs)": good, "GAN (course, 3 epochs)": bad}
    records = {"VAE (kit, 4 epochs)": {"epochs": 4, "seconds": 8.0},
               "GAN (kit, 6 epochs)": {"epochs": 6, "seconds": 30.0},
               "VAE (course, 3 epochs)": {"epochs": 3, "seconds": 12.0},
               "GAN (course, 3 epochs)": {"epochs": 3, "seconds": 40.0}}
    rows = course_comparison(scores, records)
    assert [(r["model"], r["kit"], r["course"]) for r in rows] == [("VAE", "4 epochs", "3 epochs"),
                                                                  ("GAN", "6 epochs", "3 epochs")]
    assert [r["KID verdict"] for r in rows] == ["course better", "kit better"]
    assert [r["course seconds"] for r in rows] == [12, 40]
    # the standard network's scores join where it scored both models of a row
    verdicts = course_verdicts(rows, {"GAN (kit, 6 epochs)": bad, "GAN (course, 3 epochs)": good})
    assert "standard network: KID" not in verdicts[0]
    assert verdicts[1]["standard network: KID"] == "course better"
    assert course_comparison({"VAE (kit)": good}, {}) == []


# --------------------------------------------------------------------------- precision and recall

def _clusters(rng: np.random.Generator, centres: np.ndarray, per_cluster: int) -> np.ndarray:
    """``per_cluster`` unit-Gaussian samples around each of ``centres`` ``(c, d)``."""
    return np.concatenate([c + rng.normal(size=(per_cluster, centres.shape[1])) for c in centres])


def test_identical_sets_have_precision_and_recall_one():
    f = np.random.default_rng(0).normal(size=(300, 64))
    assert precision_recall(f, f) == {"precision": 1.0, "recall": 1.0}
    assert precision_recall(f, f[::-1].copy(), k=1) == {"precision": 1.0, "recall": 1.0}   # order-free


def test_a_set_far_from_the_real_one_has_precision_near_zero():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 16))
    far = rng.normal(size=(400, 16)) + 10.0                       # 10 std away along every axis
    scores = precision_recall(real, far)
    assert scores["precision"] < 0.01 and scores["recall"] < 0.01
    near = precision_recall(real, rng.normal(size=(400, 16)))     # the same distribution: far higher
    assert near["precision"] > 0.5 and near["recall"] > 0.5


def test_covering_half_the_real_modes_gives_recall_near_half_and_keeps_precision():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(10, 2)) * 30                       # 10 well separated modes
    real = _clusters(rng, centres, 100)
    half = _clusters(rng, centres[:5], 200)                       # as many samples, half the modes
    every = _clusters(rng, centres, 100)
    pr_half, pr_every = precision_recall(real, half), precision_recall(real, every)
    assert pr_every["recall"] > 0.9 and pr_every["precision"] > 0.9
    assert 0.4 < pr_half["recall"] < 0.55
    assert pr_half["recall"] / pr_every["recall"] == pytest.approx(0.5, abs=0.05)
    assert pr_half["precision"] > 0.9                             # what it makes is realistic


def test_precision_recall_match_a_brute_force_count_at_any_batch_size():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) * 0.8 + 0.7
    # the definitions, written out with the full distance matrices (no squared-norm expansion)
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    for k in (1, 3, 5):
        r_real, r_fake = np.sort(d_rr, 1)[:, k], np.sort(d_ff, 1)[:, k]    # column 0: itself
        expected = {"precision": float((d_fr <= r_real[None]).any(1).mean()),
                    "recall": float((d_fr <= r_fake[:, None]).any(0).mean())}
        np.testing.assert_allclose(knn_radii(real, k, batch_size=7), r_real, rtol=1e-9)
        for batch_size in (1, 7, 1000):
            assert precision_recall(real, fake, k, batch_size=batch_size) == expected
    assert 0 < expected["precision"] < 1 and 0 < expected["recall"] < 1   # a case that can go wrong


def test_precision_recall_memory_is_bounded_by_the_batch():
    rng = np.random.default_rng(4)
    n, d, batch = 3000, 32, 100
    real, fake = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    tracemalloc.start()
    try:
        precision_recall(real, fake, batch_size=batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_matrix = n * n * 8                                       # one n x n float64 distance matrix: 72 MB
    assert peak < full_matrix / 4, f"peak {peak / 1e6:.1f} MB"


def test_precision_recall_reject_bad_input_clearly():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        precision_recall(real.reshape(20, 2, 4), fake)
    with pytest.raises(ValueError, match="same d"):
        precision_recall(real, fake[:, :4])
    with pytest.raises(ValueError, match=r"k=3 needs at least 4 generated samples.*got 3"):
        precision_recall(real, fake[:3])
    with pytest.raises(ValueError, match=r"at least 6 real samples"):
        precision_recall(real[:5], fake, k=5)
    with pytest.raises(ValueError, match="positive integer"):
        precision_recall(real, fake, k=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        precision_recall(real, np.where(np.arange(20)[:, None] == 4, np.nan, fake))
    with pytest.raises(ValueError, match="one radius per real sample"):
        precision_recall(real, fake, real_radii=np.ones(3))


def test_every_scored_set_gets_precision_and_recall():
    extractor, calls = _counting_means()
    rng = np.random.default_rng(6)
    real = rng.random((64, 8, 8, 3)).astype("float32")
    table = score_sets(real, {"same": real, "dark": real * 0.3}, extractor, seed=0)
    assert table["same"]["precision"] == table["same"]["recall"] == 1.0
    assert table["dark"]["precision"] < 0.2 and table["dark"]["pr_k"] == 3
    dark = precision_recall(extractor(real), extractor(real * 0.3))
    assert {k: table["dark"][k] for k in dark} == dark
    assert feature_scores(extractor(real), extractor(real * 0.3))["features"] == "given features"


# --------------------------------------------------------------------------- tables: KID first

def test_format_kid_keeps_two_significant_digits_of_the_std():
    assert format_kid({"kid": 0.091634, "kid_std": 0.00213}) == "0.0916 ± 0.0021"
    assert format_kid({"kid": 2.7712, "kid_std": 0.1}) == "2.77 ± 0.10"
    assert format_kid({"kid": -0.00004, "kid_std": 0.00031}) == "-0.00004 ± 0.00031"


def test_fid_bias_note_names_the_set_size_and_the_floor():
    note = fid_bias_note(500, 41.2)
    assert "500 images" in note and "biased upward" in note and "41.2" in note
    assert "50,000" in note and "KID" in note
    assert "biased" not in fid_bias_note(50_000)
    with pytest.raises(ValueError, match="n_images"):
        fid_bias_note(0)


def test_score_table_puts_kid_first_and_the_bias_note_next_to_the_floor():
    floor = {"fid": 41.2, "kid": 0.0003, "kid_std": 0.0004, "precision": 0.8, "recall": 0.79,
             "n_generated": 500}
    gan = {"fid": 154.4, "kid": 0.0916, "kid_std": 0.0021, "precision": 0.5, "recall": 0.2,
           "n_generated": 500}
    rows = score_table({"real vs real (floor)": floor, "GAN": gan}, extra={"GAN": {"epochs": 20}})
    columns = ["model", "KID ± std", "FID", "precision", "recall", "images", "epochs", "note"]
    assert list(rows[0]) == list(rows[1]) == columns              # the floor row too: tables take row 0's
    assert rows[0]["epochs"] == "" and rows[1]["epochs"] == 20
    assert rows[1]["KID ± std"] == "0.0916 ± 0.0021" and rows[1]["note"] == ""
    assert rows[0]["note"] == fid_bias_note(500, 41.2)
    assert "note" not in score_table({"GAN": gan})[0]             # no floor: no empty column
    with pytest.raises(ValueError, match="no scores"):
        score_table({})


def test_the_score_modules_import_in_one_direction_and_no_private_names():
    """features <- fid_inception <- scores: no cycle, and nothing private crosses a module."""
    package = Path(__file__).resolve().parents[1] / "idl_utils"

    def imports(module: str) -> list[tuple[str, str]]:
        tree = ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))
        return [(node.module or "", alias.name) for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 1 for alias in node.names]

    assert not any(m == "scores" for m, _ in imports("fid_inception"))
    assert not any(m in {"scores", "fid_inception"} for m, _ in imports("features"))
    for path in package.glob("*.py"):
        private = [f"{m}.{n}" for m, n in imports(path.stem) if n.startswith("_")]
        assert not private, f"{path.name} imports private names {private}"


def test_fid_from_small_sets_needs_no_feature_by_feature_matrix_and_agrees_with_the_full_path():
    from idl_utils.scores import _trace_sqrt_product

    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 40)) @ rng.normal(size=(40, 40))
    b = rng.normal(size=(9, 40)) @ rng.normal(size=(40, 40)) + 0.5
    a, b = a - a.mean(0), b - b.mean(0)
    assert _trace_sqrt_product(a, b, low_rank=True) == pytest.approx(
        _trace_sqrt_product(a, b, low_rank=False), rel=1e-6)
    # and the FID itself: same value as the textbook formula with scipy's matrix square root
    from scipy.linalg import sqrtm

    fa, fb = rng.normal(size=(8, 64)), rng.normal(size=(10, 64)) * 2 + 1
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    textbook = (np.sum((fa.mean(0) - fb.mean(0)) ** 2) + np.trace(ca) + np.trace(cb)
                - 2 * np.trace(sqrtm(ca @ cb).real))
    assert frechet_distance(fa, fb) == pytest.approx(textbook, rel=1e-6)


@pytest.mark.parametrize("precision, recall, reading", [
    (0.0, 0.0, "has not learned the data yet"),
    (0.10, 0.014, "the signature of dropped modes"),
    (0.05, 0.26, "the signature of blur"),
    (0.19, 0.20, "within a factor of two"),
])
def test_precision_and_recall_are_read_as_the_reason_a_model_is_far(precision, recall, reading):
    from idl_utils.scores import precision_recall_reading

    assert reading in precision_recall_reading("model", precision, recall)
