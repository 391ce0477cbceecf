import json

import pytest

from idl_utils.tools.audit import audit_cache, epoch_stability, main, noise_band


def _info(curve, *, keep="best", best=None, n_val=1000):
    return {"history": {"val_exact": curve}, "best_epoch": best or len(curve),
            "train": {"keep": keep}, "n_val": n_val}


def test_a_model_that_ends_on_a_plateau_is_stable():
    row = epoch_stability(_info([0.1, 0.5, 0.95, 0.951, 0.952], keep="last"))
    assert row["kept_epoch"] == 5 and row["verdict"] == "stable"
    assert row["change_one_epoch"] == pytest.approx(0.001)


def test_a_model_stopped_in_the_middle_of_its_climb_is_flagged():
    # the 3-digit reader's failure: the kept epoch is the first one after the take-off
    row = epoch_stability(_info([0.02, 0.03, 0.29, 0.68], keep="last"))
    assert row["verdict"] == "TIPPING" and row["change_one_epoch"] == pytest.approx(0.39)


def test_keep_best_looks_at_the_epochs_on_both_sides_of_the_best_one():
    curve = [0.2, 0.9, 0.97, 0.6, 0.96]  # a late dip after the best epoch: one epoch more moves it
    row = epoch_stability(_info(curve, best=3, n_val=2000))
    assert row["kept_epoch"] == 3 and row["verdict"] == "TIPPING"
    assert row["change_one_epoch"] == pytest.approx(0.37)


def test_the_noise_band_is_binomial_and_at_least_one_item():
    assert noise_band(0.5, 100) == pytest.approx(2 * 0.05)
    assert noise_band(1.0, 200) == pytest.approx(1 / 200)  # p = 1: no variance, one item still
    assert noise_band(0.9, None) is None
    row = epoch_stability(_info([0.5, 0.6], n_val=None))
    assert row["verdict"] == "unknown"


def test_records_without_a_validation_curve_are_skipped():
    assert epoch_stability({"history": {"loss": [3.0, 2.0]}}) is None
    assert epoch_stability(_info([0.4])) is None  # one epoch: no neighbour to compare


def test_the_command_audits_a_cache_folder_and_exits_1_on_a_tipping_point(tmp_path, capsys):
    for name, info in {"t2t_kit_2d-aaa": _info([0.5, 0.99, 0.991], keep="last"),
                       "i2t_reader_3digit-bbb": _info([0.02, 0.3, 0.7], keep="last"),
                       "judge-ccc": {"history": {"loss": [1.0, 0.5]}}}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "info.json").write_text(json.dumps(info))
    rows = audit_cache(tmp_path)
    assert [r["model"] for r in rows] == ["i2t_reader_3digit-bbb", "t2t_kit_2d-aaa"]
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 at a tipping point" in out and "i2t_reader_3digit-bbb" in out.split("point (")[-1]
    (tmp_path / "i2t_reader_3digit-bbb" / "info.json").unlink()
    assert main([str(tmp_path)]) == 0


def test_an_unreadable_cache_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "no model cache" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "info.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err
