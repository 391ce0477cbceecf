import numpy as np
import pytest

from idl_utils.queries import decode_text, exact_match, make_queries, queries_from_strings, split_queries
from idl_utils.seq_models import (
    AlignedReversed,
    CourseText,
    QueryBatches,
    TrainConfig,
    build_course_model,
    build_kit_model,
    get_representation,
    predict_answers,
    train_seq_model,
)


@pytest.mark.parametrize("digits", [2, 3])
@pytest.mark.parametrize("rep", [CourseText(), AlignedReversed()], ids=lambda r: r.name)
def test_representations_round_trip_every_answer(rep, digits):
    qs = make_queries(digits)
    if digits == 3:
        qs = qs.subset(np.random.default_rng(0).choice(len(qs), 20_000, replace=False))
    x, y = rep.encode_inputs(qs), rep.encode_targets(qs)
    assert x.shape == (len(qs), *rep.input_shape(digits))
    assert y.shape == (len(qs), *rep.output_shape(digits))
    # decoding the one-hot targets must give back exactly the canonical answers
    assert np.array_equal(rep.decode(y, digits), qs.answers)


def test_aligned_reversed_layout():
    qs = queries_from_strings(["81+24", "41-89"], 2)
    rep = AlignedReversed()
    x = rep.encode_inputs(qs)
    # step 0 holds the ones digits (1 and 4), step 1 the tens (8 and 2), then zeros
    assert x[0, 0, :13].argmax() == 1 and x[0, 0, 13:26].argmax() == 4
    assert x[0, 1, :13].argmax() == 8 and x[0, 1, 13:26].argmax() == 2
    assert x[0, 2, :13].argmax() == 0
    assert x[0, 0, 39:].tolist() == pytest.approx([1 / 9, 4 / 9])  # digit values
    y = rep.encode_targets(qs).argmax(-1)
    assert y[0].tolist() == [5, 0, 1, 12]  # '105' reversed, then ' ' (positive)
    assert y[1].tolist() == [8, 4, 0, 11]  # '48' reversed, zero, then '-'


def test_aligned_reversed_decoding_never_cuts_an_answer():
    """A wrong answer longer than the padded width keeps every character (it was once cut to
    the width, so that '-105' read as '-10'), and no answer goes through a fixed-size integer
    (20-digit magnitudes were once cut to 8 characters)."""
    rep = AlignedReversed()
    eye = np.eye(13)
    wrong = eye[[5, 0, 1, 11]][None]  # digits 5, 0, 1 (ones first) and '-': -105
    assert rep.decode(wrong, 2).tolist() == ["-105"]
    right = eye[[8, 4, 0, 11]][None]
    assert rep.decode(right, 2).tolist() == ["-48"] and rep.decode(right, 2).dtype == "<U3"
    long = eye[[7] * 20 + [0, 12]][None]
    assert rep.decode(long, 20).tolist() == ["7" * 20 + " "]


def test_unknown_representation():
    with pytest.raises(ValueError, match="Accepted: course_text, aligned_reversed"):
        get_representation("binary")


def test_model_shapes():
    assert build_course_model(2, units=8).output_shape == (None, 3, 13)
    assert build_course_model(3, units=8, encoder_layers=3).output_shape == (None, 4, 13)
    assert build_kit_model(2, units=8, encoder_layers=2).output_shape == (None, 4, 13)
    with pytest.raises(ValueError, match="encoder_layers must be >= 1"):
        build_kit_model(2, encoder_layers=0)


def test_predict_refuses_mismatched_model():
    qs = queries_from_strings(["1+1"], 2)
    with pytest.raises(ValueError, match="wrong model or representation"):
        predict_answers(build_course_model(2, units=8), AlignedReversed(), qs)


def test_query_batches_cover_every_query_once_per_epoch():
    qs = make_queries(2).subset(np.arange(1000))
    batches = QueryBatches(qs, CourseText(), 64, seed=3)
    assert len(batches) == 16
    seen = np.concatenate([batches[i][0] for i in range(len(batches))])
    assert seen.shape == (1000, 5, 13)
    assert sorted(decode_text(seen).tolist()) == sorted(qs.queries.tolist())
    first = batches[0][0].copy()
    batches.on_epoch_end()
    assert not np.array_equal(first, batches[0][0])  # reshuffled
    with pytest.raises(ValueError, match="empty"):
        QueryBatches(qs.subset(np.arange(0)), CourseText(), 8)


def test_kit_model_learns_addition_quickly_and_reproducibly():
    """A real (small) training run: the kit model must learn a good part of a 50/50 split of
    two-digit queries in a few epochs, and the same seed must give the same accuracy."""
    from idl_utils.config import set_seed

    def run():
        set_seed(0)
        sp = split_queries(make_queries(2), 0.5, seed=0, val_fraction=0.1)
        model = build_kit_model(2, units=64)
        cfg = TrainConfig(epochs=4, batch_size=64, learning_rate=5e-3, verbose=0)
        info = train_seq_model(model, AlignedReversed(), sp.train, sp.val, cfg, seed=0)
        return exact_match(predict_answers(model, AlignedReversed(), sp.test), sp.test.answers), info

    acc, info = run()
    assert acc > 0.35, acc  # guessing gets about 0.1%; 4 short epochs learn a third or more
    assert info["epochs_run"] == 4 and 1 <= info["best_epoch"] <= 4
    assert len(info["history"]["val_exact"]) == 4 and info["n_val"] == 1000  # for make audit
    acc2, _ = run()
    assert acc2 == acc


def test_empty_split_is_refused():
    qs = make_queries(2).subset(np.arange(10))
    with pytest.raises(ValueError, match="empty split"):
        train_seq_model(build_kit_model(2, units=4), AlignedReversed(), qs, qs.subset(np.arange(0)),
                        TrainConfig(epochs=1))


def test_bad_training_settings_are_refused_before_training():
    qs = make_queries(2).subset(np.arange(10))
    model = build_kit_model(2, units=4)
    with pytest.raises(ValueError, match="keep must be 'best' or 'last'"):
        train_seq_model(model, AlignedReversed(), qs, qs, TrainConfig(epochs=1, keep="middle"))
    with pytest.raises(ValueError, match="lr_schedule must be"):
        train_seq_model(model, AlignedReversed(), qs, qs, TrainConfig(epochs=1, lr_schedule="step"))
    assert not model.compiled  # refused before anything was compiled or fitted


@pytest.mark.parametrize("streaming", [False, True])
def test_several_steps_per_execution_train_exactly_like_one(streaming):
    """``steps_per_execution`` is a speed-up only: the same history and predictions, for arrays
    and for streamed batches, with 29 batches per epoch (not a multiple of 3)."""
    from idl_utils.config import set_seed

    sp = split_queries(make_queries(2), 0.1, seed=0, val_fraction=0.1)

    def run(steps: int):
        set_seed(0)
        model = build_kit_model(2, units=16, dropout=0.3)
        cfg = TrainConfig(epochs=2, batch_size=64, learning_rate=5e-3, verbose=0, streaming=streaming,
                          keep="last")
        info = train_seq_model(model, AlignedReversed(), sp.train, sp.val, cfg, seed=0,
                               steps_per_execution=steps)
        test_inputs = AlignedReversed().encode_inputs(sp.test.subset(np.arange(64)))
        return info["history"], model.predict(test_inputs, verbose=0)

    (hist_1, out_1), (hist_3, out_3) = run(1), run(3)
    assert len(sp.train) // 64 + 1 == 29
    for key in hist_1:
        np.testing.assert_allclose(hist_1[key], hist_3[key], rtol=1e-5)
    np.testing.assert_allclose(out_1, out_3, atol=1e-5)


def test_pick_best_start_keeps_the_candidate_best_on_validation():
    """Three real candidates from different initial weights (the small column model, one
    short epoch each): the model ends up holding exactly the weights of the candidate with
    the best validation score."""
    from idl_utils.column_model import ColumnDigits, build_column_model
    from idl_utils.config import set_seed
    from idl_utils.seq_models import pick_best_start

    set_seed(1)
    sp = split_queries(make_queries(2), 0.02, seed=1, val_fraction=0.1)
    model = build_column_model(2)
    cfg = TrainConfig(epochs=1, batch_size=32, learning_rate=2e-2, verbose=0, keep="last")
    starts, trained = [], []

    def fit(candidate):
        starts.append(candidate.get_weights())
        record = train_seq_model(candidate, ColumnDigits(), sp.train, sp.val, cfg, seed=1)
        trained.append(candidate.get_weights())
        return record

    records = pick_best_start(model, fit, 3)
    assert [r["candidate"] for r in records] == [0, 1, 2]
    assert sum(r["picked"] for r in records) == 1
    for first, other in ((0, 1), (1, 2)):  # the candidates really start from different weights
        assert any(not np.array_equal(x, y) for x, y in zip(starts[first], starts[other], strict=True))
    picked = next(r["candidate"] for r in records if r["picked"])
    best = max(records, key=lambda r: (r["val_exact"], -r["val_loss"]))["candidate"]
    assert picked == best
    for kept, theirs in zip(model.get_weights(), trained[picked], strict=True):
        np.testing.assert_array_equal(kept, theirs)


def test_restarts_are_recorded_and_counted_in_the_time():
    from idl_utils.column_model import ColumnDigits, build_column_model
    from idl_utils.config import set_seed

    set_seed(2)
    sp = split_queries(make_queries(2), 0.02, seed=2, val_fraction=0.1)
    # 2 of the 6 epochs planned for each candidate, 4 for the final run; but the time budget
    # bounds the candidates too, so each of them and the final run stop after one epoch
    cfg = TrainConfig(epochs=6, batch_size=32, learning_rate=2e-2, verbose=0, keep="last",
                      restarts=2, restart_fraction=0.34, max_seconds=1e-3)
    info = train_seq_model(build_column_model(2), ColumnDigits(), sp.train, sp.val, cfg, seed=2)
    assert len(info["restarts"]) == 2 and sum(r["picked"] for r in info["restarts"]) == 1
    assert [r["epochs_run"] for r in info["restarts"]] == [1, 1]
    assert info["epochs_run"] == 2 and len(info["history"]["val_exact"]) == 1
    assert info["seconds"] > sum(r["seconds"] for r in info["restarts"])
    assert info["train"]["restarts"] == 2 and info["train"]["restart_fraction"] == 0.34
    # a single start records its settings as before restarts existed (same cache keys)
    assert "restarts" not in TrainConfig().as_dict()


def test_impossible_restart_settings_are_refused():
    qs = make_queries(2).subset(np.arange(10))
    model = build_kit_model(2, units=4)
    with pytest.raises(ValueError, match="restart_fraction below 1"):
        train_seq_model(model, AlignedReversed(), qs, qs, TrainConfig(epochs=1, restarts=2))
    with pytest.raises(ValueError, match="restarts >= 1"):
        train_seq_model(model, AlignedReversed(), qs, qs, TrainConfig(epochs=4, restarts=0))
    assert not model.compiled


def test_the_aligned_steps_read_as_columns():
    from idl_utils.queries import queries_from_strings
    from idl_utils.seq_models import AlignedReversed

    qs = queries_from_strings(["81+24", "41-89"], 2)
    assert AlignedReversed().describe(qs) == ["(1,4,+) (8,2,+) (0,0,+) (0,0,+)",
                                              "(1,9,-) (4,8,-) (0,0,-) (0,0,-)"]
