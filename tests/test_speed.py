import pytest

from idl_utils.tools.speed import CALIBRATION, describe, estimate_minutes, probe


def test_estimate_on_the_calibration_machine_is_its_own_measurement():
    estimate = estimate_minutes(CALIBRATION["probe"])
    assert estimate == {name: minutes for name, (minutes, _) in CALIBRATION["minutes"].items()}


def test_estimate_scales_each_notebook_by_its_own_kind_of_step():
    ref = CALIBRATION["probe"]
    base = estimate_minutes(ref)
    slow_gan = estimate_minutes({**ref, "gan_step_ms": 2 * ref["gan_step_ms"]})
    fast_lstm = estimate_minutes({**ref, "lstm_step_ms": ref["lstm_step_ms"] / 4})
    assert slow_gan["01_generative_models"] == pytest.approx(2 * base["01_generative_models"], abs=0.1)
    assert slow_gan["02_text_to_text"] == base["02_text_to_text"]
    assert fast_lstm["02_text_to_text"] == pytest.approx(base["02_text_to_text"] / 4, abs=0.1)
    assert fast_lstm["01_generative_models"] == base["01_generative_models"]
    # notebooks that spend their time in both kinds of step scale with the geometric mean
    assert fast_lstm["03_image_to_text"] == pytest.approx(base["03_image_to_text"] / 2, abs=0.1)
    assert slow_gan["04_text_to_image"] == pytest.approx(base["04_text_to_image"] * 2 ** 0.5, abs=0.1)


def test_estimate_needs_both_probes():
    with pytest.raises(ValueError, match="lstm_step_ms"):
        estimate_minutes({"gan_step_ms": 100.0})


def test_describe_lists_the_chosen_notebooks_and_their_total():
    text = describe(CALIBRATION["probe"], ["02_text_to_text", "04_text_to_image"])
    assert "02_text_to_text" in text and "04_text_to_image" in text
    assert "01_generative_models" not in text and "total" in text


def test_parallel_minutes_packs_notebooks_into_free_slots():
    from idl_utils.tools.speed import parallel_minutes

    minutes = {"a": 20.0, "b": 20.0, "c": 15.0, "d": 5.0}
    assert parallel_minutes(minutes, 1) == 60.0
    # a and b share the machine (x1.5), then c and d take the freed slots
    assert parallel_minutes(minutes, 2, slowdown=1.5) == 30.0 + 22.5
    # sharing that costs more than it gives never makes the estimate worse than one at a time
    assert parallel_minutes(minutes, 2, slowdown=3.0) == 60.0
    assert parallel_minutes({"a": 7.0}, 2, slowdown=1.5) == 7.0


def test_describe_gives_the_elapsed_time_of_a_parallel_run():
    from idl_utils.tools.speed import CALIBRATION, describe

    text = describe(CALIBRATION["probe"], jobs=2)
    assert "one at a time" in text and "elapsed, 2 at a time" in text
    assert "at a time" not in describe(CALIBRATION["probe"], ["02_text_to_text"], jobs=2)


def test_probe_times_real_training_steps():
    measured = probe(gan_steps=10, lstm_steps=10, repeats=1)  # one timed call: the order is what counts
    assert set(measured) == {"gan_step_ms", "lstm_step_ms"}
    # a GAN step (two networks, forward and backward, batch 32) costs more than an LSTM step
    assert measured["gan_step_ms"] > measured["lstm_step_ms"] > 0


def test_cli_prints_the_estimate_and_ends_with_the_probe_as_json(monkeypatch, capsys):
    import json

    from idl_utils.tools import speed

    # probe() itself is timed for real above; here only what the command line makes of it
    twice_as_slow = {kind: 2 * ms for kind, ms in CALIBRATION["probe"].items()}
    monkeypatch.setattr(speed, "probe", lambda: twice_as_slow)
    assert speed.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == twice_as_slow
    minutes = 2 * CALIBRATION["minutes"]["01_generative_models"][0]
    assert any("01_generative_models" in line and f"{minutes:.0f} min" in line for line in out)


def test_a_failing_probe_never_stops_reproduce(monkeypatch, capsys):
    from idl_utils.tools import reproduce

    monkeypatch.setattr(reproduce.sys, "executable", "/bin/false")
    assert reproduce.run_speed_probe() is None
    assert "speed probe failed" in capsys.readouterr().out
