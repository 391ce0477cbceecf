import json

import keras
import numpy as np
import pytest

from idl_utils.config import STEPS_PER_EXECUTION, set_seed
from idl_utils.training import fit_timed, history_to_json, peak_memory, peak_memory_gib

X = np.random.default_rng(0).normal(size=(96, 4)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0], "float32"))[:, None]


def _model(seed: int = 0) -> keras.Model:
    set_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dropout(0.2, seed=seed), keras.layers.Dense(1)])


def _compile_args() -> dict:
    return {"optimizer": keras.optimizers.Adam(1e-2), "loss": "mse", "metrics": ["mae"]}


def test_fit_timed_returns_a_json_record_of_the_fit():
    record = fit_timed(_model(), X, Y, epochs=3, batch_size=16, verbose=0, compile_args=_compile_args(),
                       validation_data=(X[:8], Y[:8]))
    assert set(record) == {"history", "epochs_run", "seconds", "peak_memory_gib"}
    assert set(record["history"]) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 and all(type(x) is float for x in v) for v in record["history"].values())
    assert record["epochs_run"] == 3
    assert record["seconds"] > 0 and record["peak_memory_gib"] > 0
    assert json.loads(json.dumps(record)) == record
    # the fit learned something: the loss fell
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]


def test_fit_timed_compiles_with_the_kits_steps_per_execution():
    model = _model()
    fit_timed(model, X, Y, epochs=1, batch_size=16, verbose=0, compile_args=_compile_args())
    assert model.steps_per_execution == STEPS_PER_EXECUTION


def test_fit_timed_counts_epochs_a_callback_stopped_early():
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    record = fit_timed(_model(), X, Y, epochs=10, batch_size=16, verbose=0, callbacks=[stop],
                       compile_args=_compile_args())
    assert record["epochs_run"] == 2 and len(record["history"]["loss"]) == 2


@pytest.mark.parametrize("steps", [1, 4])
def test_same_seed_same_numbers_whatever_the_steps_per_execution(steps):
    """Identical histories and weights for the same seed: one compiled call per batch or
    several (the last execution of each epoch runs the 6 left-over batches of 16)."""
    reference = _model(seed=3)
    ref = fit_timed(reference, X, Y, epochs=2, batch_size=16, verbose=0, compile_args=_compile_args(),
                    steps_per_execution=1)
    model = _model(seed=3)
    run = fit_timed(model, X, Y, epochs=2, batch_size=16, verbose=0, compile_args=_compile_args(),
                    steps_per_execution=steps)
    assert run["history"] == ref["history"]
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_timed_fits_a_model_compiled_already_and_refuses_one_that_is_not():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    record = fit_timed(model, X, Y, epochs=1, batch_size=32, verbose=0)
    assert set(record["history"]) == {"loss"}
    with pytest.raises(ValueError, match="not compiled: pass compile_args"):
        fit_timed(_model(), X, Y, epochs=1, verbose=0)


def test_fit_timed_refuses_bad_settings():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit_timed(_model(), X, Y, epochs=0, compile_args=_compile_args())
    with pytest.raises(ValueError, match="steps_per_execution must be >= 1"):
        fit_timed(_model(), X, Y, epochs=1, compile_args=_compile_args(), steps_per_execution=0)


def test_history_to_json_makes_plain_floats():
    logs = {"loss": [np.float32(0.5), np.float64(0.25)], "accuracy": [1, 0.5]}
    out = history_to_json(logs)
    assert out == {"loss": [0.5, 0.25], "accuracy": [1.0, 0.5]}
    assert all(type(x) is float for v in out.values() for x in v)
    history = keras.callbacks.History()
    history.history = logs
    assert history_to_json(history) == out


def test_peak_memory_sees_an_allocation():
    with peak_memory() as before:
        pass
    with peak_memory() as during:
        block = np.ones(300 * 2**20 // 8)  # 300 MiB
        block.sum()
    del block
    assert during["peak_gib"] > before["peak_gib"] + 0.2
    # the process's largest peak so far remembers the block after it is freed
    assert peak_memory_gib() >= during["peak_gib"] - 0.01


def test_the_kits_progress_output_is_one_summary_line_per_training(capsys, monkeypatch):
    """IDL_PROGRESS=summary (make test, make reproduce): no per-epoch lines, one summary."""
    monkeypatch.setenv("IDL_PROGRESS", "summary")
    fit_timed(_model(), X, Y, epochs=4, batch_size=16, compile_args=_compile_args(), name="tiny fit")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tiny fit: 4 epochs, ") and "last epoch loss " in lines[0]


def test_the_progress_bar_leaves_only_the_summary_and_keras_mode_logs_every_epoch(capsys, monkeypatch):
    monkeypatch.setenv("IDL_PROGRESS", "bar")
    fit_timed(_model(), X, Y, epochs=3, batch_size=16, compile_args=_compile_args(), name="barred")
    out = capsys.readouterr().out
    assert "/3 [" in out, "a bar over the 3 epochs"
    # the bar is cleared when training ends; what stays is the summary line
    assert out.rstrip("\n").replace("\r", "\n").split("\n")[-1].startswith("barred: 3 epochs")
    monkeypatch.setenv("IDL_PROGRESS", "keras")
    fit_timed(_model(), X, Y, epochs=3, batch_size=16, compile_args=_compile_args())
    assert sum(line.startswith("Epoch ") for line in capsys.readouterr().out.splitlines()) == 3


def test_a_summary_names_the_best_validation_epoch_and_an_early_stop():
    from idl_utils.training import training_summary

    line = training_summary("course 50/50 seed 42", {"loss": [1.0, 0.5, 0.4], "val_exact": [0.2, 0.9, 0.8]},
                            epochs_run=3, epochs=100, seconds=61.4)
    assert line == ("course 50/50 seed 42: 3 of 100 epochs (stopped early), 61 s; "
                    "best validation exact match 90.00% at epoch 2")


def test_an_unknown_progress_mode_says_what_to_set(monkeypatch):
    from idl_utils.config import progress_mode

    monkeypatch.setenv("IDL_PROGRESS", "loud")
    with pytest.raises(ValueError, match="IDL_PROGRESS='loud' is not one of bar, summary, keras"):
        progress_mode()
