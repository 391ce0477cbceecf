from pathlib import Path

import pytest

from idl_utils.tools.speed import CALIBRATION, describe, estimate_minutes


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
    # a and b share the machine (x1.5) until 30; c and d take the freed slots, d ends at 37.5,
    # and c does its last 10 minutes alone, at full speed
    assert parallel_minutes(minutes, 2, slowdown=1.5) == pytest.approx(47.5)
    # sharing that costs more than it gives shows as a longer run, not hidden
    assert parallel_minutes(minutes, 2, slowdown=3.0) == pytest.approx(85.0)
    assert parallel_minutes({"a": 7.0}, 2, slowdown=1.5) == 7.0
    # one factor per notebook: b barely slows down beside a
    assert parallel_minutes({"a": 10.0, "b": 10.0}, 2, slowdown={"a": 2.0, "b": 1.0}) == pytest.approx(15.0)


def test_slowdowns_come_from_the_side_by_side_probe_per_kind_of_step():
    from idl_utils.tools.speed import PARALLEL_SLOWDOWN, SHARED_EFFECT, slowdowns

    alone = dict(CALIBRATION["probe"])
    assert set(slowdowns(alone).values()) == {PARALLEL_SLOWDOWN}  # no side-by-side probe
    shared = {**alone, "gan_step_ms_shared": 2 * alone["gan_step_ms"],
              "lstm_step_ms_shared": 1.5 * alone["lstm_step_ms"]}
    factors = slowdowns(shared)
    assert factors["01_generative_models"] == pytest.approx(1 + SHARED_EFFECT * 1.0)
    assert factors["02_text_to_text"] == pytest.approx(1 + SHARED_EFFECT * 0.5)
    assert factors["03_image_to_text"] == pytest.approx(1 + SHARED_EFFECT * (3 ** 0.5 - 1), abs=1e-3)
    assert f"{1 + SHARED_EFFECT * 0.5:.2f}-{1 + SHARED_EFFECT:.2f}x" in describe(shared, jobs=2)


def test_the_estimate_lands_within_15_percent_of_a_measured_two_at_a_time_run():
    """2026-12-05, 2-core AMD EPYC (AVX2): make speed read GAN 255 ms, LSTM 12.6 ms, and the
    whole make reproduce, two at a time, took 107.5 min of notebooks; side-by-side probes on
    the same machine kind read 2.01x for both kinds of step."""
    from idl_utils.tools.speed import parallel_minutes, slowdowns

    measured = {"gan_step_ms": 255.0, "lstm_step_ms": 12.6,
                "gan_step_ms_shared": 2.01 * 255.0, "lstm_step_ms_shared": 2.01 * 12.6}
    elapsed = parallel_minutes(estimate_minutes(measured), 2, slowdowns(measured))
    assert abs(elapsed - 107.5) / 107.5 < 0.15


def test_the_estimate_lands_within_15_percent_of_a_measured_single_notebook_run():
    """2026-12-06, the same AMD kind: make speed read GAN 227 ms, LSTM 11.9 ms, and notebook 02
    alone, from an empty model cache, took 42.7 min."""
    minutes = estimate_minutes({"gan_step_ms": 227.0, "lstm_step_ms": 11.9})["02_text_to_text"]
    assert abs(minutes - 42.7) / 42.7 < 0.15


def test_describe_gives_the_elapsed_time_of_a_parallel_run():
    from idl_utils.tools.speed import CALIBRATION, describe

    text = describe(CALIBRATION["probe"], jobs=2)
    assert "one at a time" in text and "elapsed, 2 at a time" in text
    assert "at a time" not in describe(CALIBRATION["probe"], ["02_text_to_text"], jobs=2)


def test_cli_prints_the_estimate_and_ends_with_the_probe_as_json(monkeypatch, capsys):
    import json

    from idl_utils.tools import speed

    # probe() itself is timed for real above; here only what the command line makes of it
    twice_as_slow = {kind: 2 * ms for kind, ms in CALIBRATION["probe"].items()}
    monkeypatch.setattr(speed, "probe", lambda **_: twice_as_slow)  # noqa: ARG005
    assert speed.main(["--alone"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == twice_as_slow
    minutes = 2 * CALIBRATION["minutes"]["01_generative_models"][0]
    assert any("01_generative_models" in line and f"{minutes:.0f} min" in line for line in out)


def test_a_failing_probe_never_stops_reproduce(monkeypatch, capsys):
    from idl_utils.tools import reproduce

    monkeypatch.setattr(reproduce.sys, "executable", "/bin/false")
    assert reproduce.run_speed_probe() is None
    assert "speed probe failed" in capsys.readouterr().out


def test_side_by_side_probes_run_together_and_report_their_mean(tmp_path):
    """Two real probe processes at once (short ones, each timing real GAN and LSTM training
    steps): both readings come back, under the _shared keys, and the barrier folder is
    cleaned up."""
    import tempfile

    from idl_utils.tools import speed

    before = set(Path(tempfile.gettempdir()).glob("idl-speed-*"))
    shared = speed.shared_probe(repeats=1)
    assert shared is not None and set(shared) == {"gan_step_ms_shared", "lstm_step_ms_shared"}
    # a GAN step (two networks, forward and backward, batch 32) costs more than an LSTM step
    assert shared["gan_step_ms_shared"] > shared["lstm_step_ms_shared"] > 0
    assert set(Path(tempfile.gettempdir()).glob("idl-speed-*")) == before


def test_the_barrier_waits_for_the_other_party(tmp_path):
    import threading
    import time

    from idl_utils.tools.speed import _barrier

    passed = []
    waiter = threading.Thread(target=lambda: (_barrier(str(tmp_path), "gan", timeout=30), passed.append(1)))
    waiter.start()
    time.sleep(0.5)
    assert not passed  # alone at the barrier: still waiting
    (tmp_path / "gan.other").touch()  # the other process arrives
    waiter.join(timeout=10)
    assert passed == [1]
