import json

import numpy as np
import pytest

from idl_utils.column_model import build_column_model
from idl_utils.long_arithmetic import (
    cell_check,
    cell_coverage,
    cell_table,
    main,
    mistake_counts,
    predict_long,
    score_length,
    summarise_lengths,
)
from idl_utils.long_queries import answers_match, long_queries_from_strings
from idl_utils.queries import queries_from_strings


def test_cell_coverage_counts_the_columns_worked_out_on_paper():
    rows = cell_coverage(queries_from_strings(["95+5", "10-1", "10-1"], 2))
    assert len(rows) == 400  # 2 operators x 10 x 10 digit pairs x 2 carries
    seen = {(r["op"], r["top"], r["bottom"], r["carry_in"]): r["count"] for r in rows if r["count"]}
    # 95+5: 5+5 -> 10, then 9+0 and a carry -> 10, then the carry alone; 10-1: 0-1 borrows
    assert seen == {("+", 5, 5, 0): 1, ("+", 9, 0, 1): 1, ("+", 0, 0, 1): 1,
                    ("-", 0, 1, 0): 2, ("-", 1, 0, -1): 2, ("-", 0, 0, 0): 2}
    assert {r["sum"] for r in rows} == set(range(-10, 20))


def test_cell_table_reads_the_cell_on_every_combination():
    model = build_column_model(2)
    rows = cell_table(model)
    assert len(rows) == 400 and {r["sum"] for r in rows} == set(range(-10, 20))
    key = ("op", "top", "bottom", "carry_in")
    zero_minus_nine = next(r for r in rows if tuple(r[k] for k in key) == ("-", 0, 9, -1))
    assert zero_minus_nine["sum"] == -10
    assert all(isinstance(r["right"], bool) for r in rows)
    with pytest.raises(ValueError, match="shared ordinal cell"):
        cell_table(build_column_model(2, codes="onehot"))


def test_predict_long_on_an_untrained_model_gives_answers_of_the_right_shape():
    qs = long_queries_from_strings(["1" * 40 + "+2", "3-" + "4" * 40])
    answers = predict_long(build_column_model(2), qs, batch_size=1)
    assert answers.digits.shape == (2, 41) and answers.valid.all()
    assert answers_match(answers, answers).all()


def test_summary_over_seeds_per_split_inference_and_length():
    rows = [{"split": "5/95", "inference": "soft", "digits": d, "exact_match": e}
            for d, e in [(3, 1.0), (3, 0.9), (100, 0.5)]]
    assert summarise_lengths(rows) == [
        {"split": "5/95", "inference": "soft", "digits": 3, "seeds": 2, "exact_match_mean": 0.95,
         "exact_match_min": 0.9, "exact_match_max": 1.0},
        {"split": "5/95", "inference": "soft", "digits": 100, "seeds": 1, "exact_match_mean": 0.5,
         "exact_match_min": 0.5, "exact_match_max": 0.5}]
    notebook_rows = [{"split": "1/99", "digits": 3, "exact_match": 1.0}]  # score_length rows
    assert summarise_lengths(notebook_rows)[0]["inference"] == "as trained"


def test_the_command_trains_scores_every_length_and_writes_json(tmp_path, capsys):
    """One short training (2 epochs on the 1/99 split) through the whole command."""
    out = tmp_path / "long.json"
    assert main(["--splits", "0.01", "--seeds", "5", "--lengths", "3", "12", "--n", "300",
                 "--epochs", "2", "--inference", "soft", "hard", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["inference"], r["digits"]) for r in rows] == [
        ("soft", 2), ("soft", 3), ("soft", 12), ("hard", 2), ("hard", 3), ("hard", 12)]
    for row in rows[1:3] + rows[4:]:
        assert row["queries"] == 300 and row["ci_low"] <= row["exact_match"] <= row["ci_high"]
        assert row["errors"] == round(300 * (1 - row["exact_match"]))
    assert {s["digits"] for s in result["summary"]} == {2, 3, 12}
    assert all(m["digits"] == 12 and m["errors"] > 0 for m in result["mistakes"])
    assert "| split | seed | inference | digits |" in capsys.readouterr().out


def test_bad_settings_are_refused_with_the_accepted_ones():
    with pytest.raises(SystemExit):
        main(["--set", "colour=blue"])
    with pytest.raises(ValueError, match="no queries"):
        predict_long(build_column_model(2), long_queries_from_strings(["1+1"]).subset(np.arange(0)))


def test_score_length_row_has_a_wilson_interval():
    row = score_length(build_column_model(2), 4, n=50, seed=3).row
    assert row["digits"] == 4 and row["queries"] == 50
    assert 0.0 <= row["ci_low"] <= row["exact_match"] <= row["ci_high"] <= 1.0
    assert row["errors"] == round(50 * (1 - row["exact_match"]))


def test_mistake_counts_add_the_wrong_answers_of_several_runs():
    from idl_utils.long_arithmetic import LengthScore

    qs = long_queries_from_strings(["999+1", "12-34", "5+5"], digits=3)
    truth = qs.answers()
    digits, negative = truth.digits.copy(), truth.negative.copy()
    digits[0, 1] = 9       # 999+1: the carry from the ones dropped at the tens
    negative[1] = False    # 12-34: the sign alone
    run = LengthScore({}, qs, type(truth)(digits, negative, truth.valid.copy()))
    rows = mistake_counts([run, run], by=("kind",))
    assert rows == [{"kind": "digit", "errors": 2}, {"kind": "sign", "errors": 2}]
    assert mistake_counts([LengthScore({}, qs, truth)]) == []


def test_cell_check_counts_right_and_unseen_combinations():
    found = cell_check(build_column_model(2), queries_from_strings(["95+5", "10-1"], 2))
    assert found["combinations"] == 400
    assert found["unseen"] == 400 - 6  # the six combinations of test_cell_coverage
    assert 0 <= found["right_unseen"] <= found["right"] <= 400
    assert len(found["wrong"]) == min(5, 400 - found["right"])
    assert all(("+" in w or "-" in w) for w in found["wrong"])
