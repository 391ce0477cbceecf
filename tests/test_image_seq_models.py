"""Image-to-text and text-to-image models: shapes, a tiny training run, streaming, errors."""

import numpy as np
import pytest

import idl_utils.judge as judge_module
from idl_utils.config import set_seed
from idl_utils.glyphs import MnistQueryImages
from idl_utils.image_seq_models import (
    AnswerImages,
    GeneratorRecipe,
    build_glyph_encoder,
    build_image_to_text_model,
    build_text_to_image_model,
    generate_answer_images,
    generator_key,
    judge_generated,
    judged_row,
    train_text_to_image,
    trained_generator,
    trained_warm_generator,
    warm_start,
    weighted_layers,
)
from idl_utils.judge import build_judge
from idl_utils.queries import make_queries, split_queries
from idl_utils.seq_models import QueryBatches, TrainConfig, predict_answers, train_seq_model
from idl_utils.training import peak_memory_gib


def test_image_to_text_shapes_and_depth():
    for digits, steps in ((2, 5), (3, 7)):
        model = build_image_to_text_model(digits, units=8, encoder_layers=2, features=8)
        assert model.input_shape == (None, steps, 28, 28)
        assert model.output_shape == (None, digits + 1, 13)
        assert {"encoder_1_bi", "encoder_2_bi"} <= {layer.name for layer in model.layers}
    with pytest.raises(ValueError, match="encoder_layers"):
        build_image_to_text_model(2, encoder_layers=0)


def test_image_to_text_trains_with_the_kit_loop(bank):
    set_seed(0)
    split = split_queries(make_queries(2).subset(np.arange(0, 20000, 50)), 0.5, 0, val_fraction=0.2)
    rep = MnistQueryImages(bank, seed=0)
    model = build_image_to_text_model(2, units=8, glyph_encoder=build_glyph_encoder(8))
    cfg = TrainConfig(epochs=1, batch_size=64, verbose=0, streaming=True)
    info = train_seq_model(model, rep, split.train, split.val, cfg, seed=0)
    assert info["epochs_run"] == 1
    assert predict_answers(model, rep, split.test).shape == (len(split.test),)


def test_streamed_batches_are_reproducible_and_bounded(bank):
    qs = make_queries(3)  # 2,000,000 queries: only a batch is ever rendered
    rep = MnistQueryImages(bank, seed=3)
    a = QueryBatches(qs, rep, 32, seed=1)
    b = QueryBatches(qs, rep, 32, seed=1)
    xa, ya = a[5]
    xb, _ = b[5]
    assert xa.shape == (32, 7, 28, 28) and ya.shape == (32, 4, 13)
    np.testing.assert_array_equal(xa, xb)
    assert peak_memory_gib() < 4


def test_queries_of_another_length_are_refused_with_the_reason(bank):
    model = build_image_to_text_model(2, units=8, features=8)
    rep = MnistQueryImages(bank, seed=0)
    with pytest.raises(ValueError, match="wrong model or representation"):
        predict_answers(model, rep, make_queries(3).sample(4, 0))
    with pytest.raises(ValueError, match="no queries"):
        predict_answers(model, rep, make_queries(2).sample(4, 0).subset(np.arange(0)))
    assert predict_answers(model, rep, make_queries(2).sample(4, 0)).shape == (4,)


def test_text_to_image_trains_and_is_judged(bank):
    set_seed(0)
    split = split_queries(make_queries(2).subset(np.arange(0, 20000, 80)), 0.5, 0, val_fraction=0.2)
    judge = build_judge(seed=0)
    rep = AnswerImages(bank, judge, seed=0)
    model = build_text_to_image_model(2, units=8, encoder_layers=2)
    assert model.output_shape == [(None, 3, 28, 28), (None, 3, 13)]
    info = train_text_to_image(model, rep, split.train, split.val,
                               TrainConfig(epochs=1, batch_size=32, verbose=0), loss="mse", seed=0)
    assert info["epochs_run"] == 1 and 0 <= info["best_val_exact"] <= 1
    assert info["loss"] == "mse" and info["char_loss_weight"] == 1.0 and info["peak_memory_gib"] > 0
    # trained by the kit's loop: pixel and character losses logged, only val_exact validated
    assert set(info["history"]) == {"loss", "draw_glyphs_loss", "char_softmax_loss", "val_exact",
                                    "val_per_char"}
    images = generate_answer_images(model, split.test)
    assert images.shape == (len(split.test), 3, 28, 28) and 0 <= images.min() and images.max() <= 1
    scores = judge_generated(judge, images, split.test.answers)
    assert set(scores) == {"per_digit", "per_glyph", "whole_answer"}
    with pytest.raises(ValueError, match="loss"):
        train_text_to_image(model, rep, split.train, split.val, TrainConfig(epochs=1), loss="l1")
    with pytest.raises(ValueError, match="empty split"):
        train_text_to_image(model, rep, split.train.subset(np.arange(0)), split.val, TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="reads queries"):
        generate_answer_images(model, make_queries(3).subset(np.arange(3)))


def test_train_reader_pretrains_the_glyph_cnn_then_the_whole_reader(bank):
    from idl_utils.image_seq_models import train_reader
    from idl_utils.judge import glyph_dataset

    set_seed(0)
    split = split_queries(make_queries(2).subset(np.arange(0, 20000, 50)), 0.5, 0, val_fraction=0.2)
    model = build_image_to_text_model(2, units=8, glyph_encoder=build_glyph_encoder(8))
    glyph_cnn = model.get_layer("read_glyphs").layer
    before = [w.copy() for w in glyph_cnn.get_weights()]
    glyphs, labels = glyph_dataset(bank, n_per_symbol=10, seed=0)
    info = train_reader(model, MnistQueryImages(bank, seed=0), split.train, split.val,
                        TrainConfig(epochs=1, batch_size=64, verbose=0), glyphs, labels,
                        pretrain_epochs=1, seed=0)
    assert info["epochs_run"] == 1 and info["pretrain_seconds"] > 0
    assert info["seconds"] >= info["pretrain_seconds"] and info["peak_memory_gib"] > 0
    assert any(not np.array_equal(a, b) for a, b in zip(before, glyph_cnn.get_weights(), strict=True))


def test_grey_share_separates_crisp_from_blurred():
    from idl_utils.image_seq_models import grey_share

    crisp = np.zeros((2, 28, 28))
    crisp[:, 10:18, 12:16] = 1.0
    blurred = np.full((2, 28, 28), 0.5)
    assert grey_share(crisp) == 0.0 and grey_share(blurred) == 1.0
    with pytest.raises(ValueError, match="no images"):
        grey_share(np.zeros((0, 28, 28)))


def test_glyph_encoder_augments_only_while_training():
    x = np.zeros((4, 28, 28), "float32")
    x[:, 10:18, 12:16] = 1.0
    plain = build_glyph_encoder(8)
    augmented = build_glyph_encoder(8, augment=True, seed=3)
    assert {"random_tilt", "random_shift"} <= {layer.name for layer in augmented.layers}
    assert not {"random_tilt", "random_shift"} & {layer.name for layer in plain.layers}
    np.testing.assert_array_equal(augmented(x, training=False), augmented(x, training=False))
    moved = np.asarray(augmented(x, training=True)) - np.asarray(augmented(x, training=False))
    assert np.abs(moved).max() > 0


def test_glyph_features_reach_the_lstms_normalised_unless_asked_otherwise():
    """Each glyph's feature vector is centred and scaled (mean 0, std 1) by default, so its
    scale no longer follows the ink; ``normalize=False`` keeps the raw ReLU features."""
    x = 100 * np.random.default_rng(0).random((6, 28, 28)).astype("float32")  # features >> epsilon
    normed = build_glyph_encoder(16, seed=1)
    assert "glyph_norm" in {layer.name for layer in normed.layers}
    out = np.asarray(normed(x, training=False))
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=1), 1.0, atol=0.02)
    np.testing.assert_allclose(np.asarray(normed(4 * x, training=False)), out, atol=0.02)
    raw = build_glyph_encoder(16, normalize=False, seed=1)
    assert "glyph_norm" not in {layer.name for layer in raw.layers}
    features = np.asarray(raw(x, training=False))
    assert (features >= 0).all()  # ReLU features: never negative
    assert np.abs(np.asarray(raw(4 * x, training=False)) - features).max() > 1


def test_a_3_digit_reader_warm_starts_from_a_2_digit_one():
    """Every weight of a 2-digit reader lands in a 3-digit reader built alike (the glyph CNN
    nested in TimeDistributed included), and its glyph CNN then reads a glyph exactly as the
    source's does; a reader with other sizes is refused with the mismatch named."""
    set_seed(1)
    two = build_image_to_text_model(2, units=16, encoder_layers=2,
                                    glyph_encoder=build_glyph_encoder(8, augment=True, seed=1))
    set_seed(2)
    three = build_image_to_text_model(3, units=16, encoder_layers=2,
                                      glyph_encoder=build_glyph_encoder(8, augment=False, seed=2))
    filled = warm_start(three, two)
    assert len(filled) == len(weighted_layers(two)) == 8  # 2 conv, dense, norm, 2 encoders, decoder, softmax
    for a, b in zip(weighted_layers(two), weighted_layers(three), strict=True):
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    glyph = np.random.default_rng(0).random((2, 28, 28)).astype("float32")
    cnn_two, cnn_three = two.get_layer("read_glyphs").layer, three.get_layer("read_glyphs").layer
    np.testing.assert_allclose(cnn_two(glyph, training=False), cnn_three(glyph), rtol=1e-6)
    with pytest.raises(ValueError, match="layers with weights"):
        warm_start(build_image_to_text_model(3, units=16, encoder_layers=1,
                                             glyph_encoder=build_glyph_encoder(8)), two)
    with pytest.raises(ValueError, match="units, features and encoder layers"):
        warm_start(build_image_to_text_model(3, units=8, encoder_layers=2,
                                             glyph_encoder=build_glyph_encoder(8)), two)


def test_a_generator_recipe_trains_once_and_then_comes_from_the_cache(bank, tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    split = split_queries(make_queries(2).sample(200, 0), 0.5, 0, val_fraction=0.2)
    rep = AnswerImages(bank, build_judge(seed=0), seed=0)
    recipe = GeneratorRecipe(units=8, loss="mse", train=TrainConfig(epochs=1, batch_size=32, verbose=0))
    model, info = trained_generator(recipe, split, rep, mnist_source="random", judge_epochs=1)
    assert info["loss"] == "mse" and info["epochs_run"] == 1
    again, info2 = trained_generator(recipe, split, rep, mnist_source="random", judge_epochs=1)
    assert info2["seconds"] == info["seconds"]  # the record of the first training, from the cache
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
    assert len(list(tmp_path.iterdir())) == 1
    # every field of the recipe and of the data is in the key; a sample is marked as one
    key = generator_key(recipe, split, rep, mnist_source="random", judge_epochs=1, seed=0)
    assert key["subset"] == "sorted sample" and key["n"] == 200 and key["bank_size"] == 50
    # the judge selects the epoch: another judge's design, another model
    monkeypatch.setattr(judge_module, "JUDGE_DESIGN", {"arch": "another-judge"})
    assert generator_key(recipe, split, rep, mnist_source="random", judge_epochs=1, seed=0) != key
    for change in ({"loss": "binary_crossentropy"}, {"layers": 2}, {"char_loss_weight": 0.5}):
        assert generator_key(recipe.with_(**change), split, rep, mnist_source="random",
                             judge_epochs=1, seed=0) != key
    with pytest.raises(ValueError, match="loss must be one of"):
        trained_generator(recipe.with_(loss="l1"), split, rep, mnist_source="random", judge_epochs=1)


def test_a_3_digit_generator_starts_from_the_2_digit_one_and_streams(bank, tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    split = split_queries(make_queries(2).sample(200, 0), 0.5, 0, val_fraction=0.2)
    rep = AnswerImages(bank, build_judge(seed=0), seed=0)
    start = GeneratorRecipe(units=8, train=TrainConfig(epochs=1, batch_size=32, verbose=0))
    source, _ = trained_generator(start, split, rep, mnist_source="random", judge_epochs=1)
    split3 = split_queries(make_queries(3).sample(300, 0), 0.5, 0, val_fraction=0.2)
    # a rate too small to move the weights: what the model holds afterwards is where it started
    recipe3 = start.with_(digits=3, train=TrainConfig(epochs=1, batch_size=32, learning_rate=1e-9,
                                                      streaming=True, verbose=0))
    model, info = trained_warm_generator(recipe3, split3, rep, start=start, start_split=split,
                                         mnist_source="random", judge_epochs=1)
    assert model.input_shape == (None, 7, 13) and info["epochs_run"] == 1
    assert generate_answer_images(model, split3.test).shape == (len(split3.test), 4, 28, 28)
    # it started from the 2-digit weights (loaded from the cache, not trained again) ...
    assert len(list(tmp_path.iterdir())) == 2
    for name in ("decoder", "draw_glyphs", "char_softmax"):
        for warm, cold in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights(),
                              strict=True):
            np.testing.assert_allclose(warm, cold, atol=1e-5)
    # ... and is cached under a key naming that start
    again, info2 = trained_warm_generator(recipe3, split3, rep, start=start, start_split=split,
                                          mnist_source="random", judge_epochs=1)
    assert info2["seconds"] == info["seconds"] and len(list(tmp_path.iterdir())) == 2
    with pytest.raises(ValueError, match="cannot warm-start"):
        trained_warm_generator(recipe3.with_(units=16), split3, rep, start=start, start_split=split,
                               mnist_source="random", judge_epochs=1)


def test_a_judged_row_scores_real_handwriting_as_the_judge_reads_it(bank):
    split = split_queries(make_queries(2).sample(100, 0), 0.5, 0)
    judge = build_judge(seed=0)
    images = np.zeros((len(split.test), 3, 28, 28), dtype=np.float32)
    row = judged_row("blank", images, judge, split.test.answers, loss="mse", layers=1, seconds=12.345)
    assert row["grey_pixels"] == 0.0 and row["train_seconds"] == 12.3
    assert row == {"model": "blank", "loss": "mse", "encoder_layers": 1, "grey_pixels": 0.0,
                   "train_seconds": 12.3, **judge_generated(judge, images, split.test.answers)}
    assert judged_row("real", images, judge, split.test.answers)["train_seconds"] == ""
    flat = {"history": {"val_exact": [0.5, 0.9, 0.9, 0.9]}, "epochs_run": 4, "best_epoch": 2,
            "n_val": 1000, "train": {"epochs": 4}}
    row = judged_row("g", images, judge, split.test.answers, record=flat)
    assert row["stopped"] == "fixed 4 epochs, flat at the end"
