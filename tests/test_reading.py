"""Notebook 03's models from recipes: cache keys built from them, warm starts, table rows."""

import numpy as np
import pytest

from idl_utils.cache import config_key
from idl_utils.judge import build_judge
from idl_utils.queries import make_queries, split_queries
from idl_utils.reading import (
    JudgeReadings,
    ReaderRecipe,
    answer_row,
    judge_ceiling,
    reader_key,
    trained_reader,
    trained_text_twin,
    trained_warm_reader,
)
from idl_utils.seq_models import TrainConfig

TINY = ReaderRecipe(units=8, features=8, layers=1,
                    train=TrainConfig(epochs=1, batch_size=32, verbose=0, streaming=True))


def test_every_setting_of_a_reader_is_in_its_cache_key(bank):
    split = split_queries(make_queries(2).sample(200, 0), 0.5, 0)
    key = reader_key(TINY, split, bank, mode="honest", mnist_source="random", seed=0)
    assert key["n"] == 200 and key["split"] == "50/50" and key["bank_size"] == 50
    for change in ({"layers": 2}, {"features": 16}, {"augment": False}, {"redraw": False},
                   {"pretrain_epochs": 2}, {"train": TrainConfig(epochs=2, streaming=True)}):
        other = reader_key(TINY.with_(**change), split, bank, mode="honest", mnist_source="random",
                           seed=0)
        assert config_key(other) != config_key(key), change
    other_split = split_queries(make_queries(2).sample(200, 0), 0.25, 0)
    assert reader_key(TINY, other_split, bank, mode="honest", mnist_source="random", seed=0) != key


def test_a_redrawing_reader_without_streaming_is_refused_with_the_fix(bank):
    split = split_queries(make_queries(2).sample(100, 0), 0.5, 0)
    with pytest.raises(ValueError, match="streaming=True"):
        trained_reader(TINY.with_(train=TrainConfig(epochs=1)), split, bank, mode="honest",
                       mnist_source="random")


def test_readers_train_once_and_a_3_digit_reader_starts_from_the_2_digit_one(bank, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    split = split_queries(make_queries(2).sample(200, 0), 0.5, 0, val_fraction=0.2)
    reader, info = trained_reader(TINY, split, bank, mode="honest", mnist_source="random")
    assert info["epochs_run"] == 1 and info["pretrain_seconds"] > 0
    again, info2 = trained_reader(TINY, split, bank, mode="honest", mnist_source="random")
    assert info2["seconds"] == info["seconds"]
    split3 = split_queries(make_queries(3).sample(300, 0), 0.5, 0, val_fraction=0.2)
    recipe3 = TINY.with_(digits=3, augment=False)
    reader3, info3 = trained_warm_reader(recipe3, split3, bank, start=TINY, start_split=split,
                                         mode="honest", mnist_source="random")
    assert reader3.input_shape == (None, 7, 28, 28) and info3["epochs_run"] == 1
    assert len(list(tmp_path.iterdir())) == 2  # the 2-digit reader was loaded, not trained again
    twin, twin_info = trained_text_twin(TINY, split)
    assert twin.input_shape == (None, 5, 13) and twin_info["epochs_run"] == 1
    with pytest.raises(ValueError, match="cannot warm-start"):
        trained_warm_reader(recipe3.with_(units=16), split3, bank, start=TINY, start_split=split,
                            mode="honest", mnist_source="random")


def test_rows_and_the_judge_ceiling(bank):
    row = answer_row("m", np.array(["105", "-48"]), np.array(["105", "-47"]), seconds=3.14159,
                     input="text")
    assert row == {"model": "m", "input": "text", "exact_match": 0.5, "per_char": 5 / 6,
                   "train_seconds": 3.1}
    rising = {"history": {"val_exact": [0.1, 0.2, 0.3, 0.5]}, "epochs_run": 4, "best_epoch": 4,
              "n_val": 1000, "train": {"epochs": 4}}
    stopped = answer_row("m", np.array(["1"]), np.array(["1"]), record=rising)["stopped"]
    assert stopped == "fixed 4 epochs, still improving (not converged)"
    qs = make_queries(2).sample(20, 0)
    from idl_utils.glyphs import render_queries

    images = render_queries(qs, bank, seed=0)
    ceiling = judge_ceiling(build_judge(seed=0), images, qs.queries, 0.9)
    assert ceiling["digit_accuracy^4"] == pytest.approx(0.9 ** 4)
    assert 0 <= ceiling["judge_reads_whole_query"] <= 1 and ceiling["judge_digit_accuracy"] == 0.9


def test_judge_readings_read_each_query_once_and_agree_with_reading_directly(bank, monkeypatch):
    import idl_utils.reading as reading
    from idl_utils.glyphs import MnistQueryImages
    from idl_utils.judge import read_text

    judge, rep = build_judge(seed=0), MnistQueryImages(bank, seed=3)
    queries = make_queries(2).sample(300, 0)
    big, small = split_queries(queries, 0.1, 0), split_queries(queries, 0.5, 0)
    read = []
    monkeypatch.setattr(reading, "read_text",
                        lambda j, images: read.append(len(images)) or read_text(j, images))
    readings = JudgeReadings(judge, rep)
    first = readings.read(small.test)
    # the same readings as reading this split's images directly, in the same order
    np.testing.assert_array_equal(first, read_text(judge, rep.encode_inputs(small.test)))
    second = readings.read(big.test)
    np.testing.assert_array_equal(second, read_text(judge, rep.encode_inputs(big.test)))
    # the larger split's test queries include the smaller's: only the others were read
    assert read == [len(small.test), len(set(big.test.queries) - set(small.test.queries))]
    assert readings.ceiling(big.test) == float(np.mean(second == big.test.queries))
    # 3-digit queries are other queries, even where the padded text could coincide
    three = make_queries(3).sample(20, 0)
    assert readings.read(three).shape == (20,) and read[-1] == 20
    with pytest.raises(ValueError, match="redraw=False"):
        JudgeReadings(judge, MnistQueryImages(bank, seed=3, redraw=True))
