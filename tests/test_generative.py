import keras
import numpy as np
import pytest
import tensorflow as tf

from idl_utils.config import set_seed
from idl_utils.generative import (
    GAN,
    VAE,
    ConvAutoencoder,
    GANMonitor,
    StepBudget,
    TimeBudget,
    WeightSnapshots,
    decode,
    discriminator_gap,
    encode,
    generate,
    generate_by_class,
    load_snapshot,
    recalibrate_batch_norm,
    reconstruct,
    reconstruction_errors,
    sample_labels,
    steps_taken,
    train_generative,
    training_dataset,
)
from idl_utils.latent import sample_latent

IMAGES = np.random.default_rng(0).random((64, 16, 16, 3)).astype("float32")


def test_autoencoder_trains_and_reports_per_image_errors():
    set_seed(0)
    cae = ConvAutoencoder(16, 8, width=8).build_all()
    info = train_generative(cae, IMAGES, epochs=1, batch_size=32, verbose=0)
    assert set(info["history"]) == {"loss", "mse"} and info["seconds_per_epoch"] > 0
    assert reconstruction_errors(cae, IMAGES[:5]).shape == (5,)
    assert encode(cae, IMAGES[:3]).shape == (3, 8)


def test_vae_tracks_both_terms_and_is_deterministic():
    runs = []
    for _ in range(2):
        set_seed(1)
        vae = VAE(16, 4, beta=0.5, width=8, seed=1).build_all()
        runs.append(train_generative(vae, IMAGES, epochs=1, batch_size=32, verbose=0, seed=1)["history"])
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(runs[0])
    assert runs[0] == runs[1]
    h = runs[0]
    assert h["loss"][0] == pytest.approx(h["reconstruction_loss"][0] + 0.5 * h["kl_loss"][0], rel=1e-4)
    assert generate(vae, 3, seed=0).shape == (3, 16, 16, 3)
    # the second-stage priors: seeded, in [0, 1], and decoding codes near the real images' codes
    fitted = generate(vae, 5, seed=2, prior="gmm", images=IMAGES, n_components=3)
    assert fitted.shape == (5, 16, 16, 3) and 0 <= fitted.min() and fitted.max() <= 1
    again = generate(vae, 5, seed=2, prior="gmm", images=IMAGES, n_components=3)
    np.testing.assert_array_equal(fitted, again)
    assert np.abs(fitted - generate(vae, 5, seed=2)).max() > 1e-4
    # one Gaussian fitted to the codes (what a CAE needs): seeded, and not the N(0, I) samples
    gaussian = generate(vae, 4, seed=3, prior="gaussian", images=IMAGES)
    np.testing.assert_array_equal(gaussian, generate(vae, 4, seed=3, prior="gaussian", images=IMAGES))
    assert np.abs(gaussian - generate(vae, 4, seed=4, prior="gaussian", images=IMAGES)).max() > 1e-4
    assert np.abs(gaussian - generate(vae, 4, seed=3)).max() > 1e-4
    with pytest.raises(ValueError, match="prior must be one of"):
        generate(vae, 2, prior="uniform")
    with pytest.raises(ValueError, match="pass images="):
        generate(vae, 2, prior="gmm")
    with pytest.raises(TypeError, match="a GAN has none"):
        generate(GAN(16, 8, width=8).build_all(), 2, prior="gmm", images=IMAGES)


def test_gan_trains_with_monitor(tmp_path):
    set_seed(0)
    gan = GAN(16, 8, width=8).build_all()
    monitor = GANMonitor(np.zeros((4, 8), "float32"), tmp_path / "progress", ncols=2)
    info = train_generative(gan, IMAGES, epochs=2, batch_size=32, learning_rate=2e-4,
                            callbacks=[monitor], verbose=0)
    assert {"d_loss", "g_loss", "d_real_prob", "d_fake_prob"} <= set(info["history"])
    assert len(monitor.samples) == 2 and monitor.samples[0].shape == (4, 16, 16, 3)
    assert sorted(p.name for p in (tmp_path / "progress").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    out = decode(gan, np.zeros((2, 8)))
    assert out.shape == (2, 16, 16, 3) and out.min() >= 0 and out.max() <= 1


def test_course_models_build():
    for cls in (ConvAutoencoder, VAE, GAN):
        model = cls(16, 4, course=True).build_all()
        assert decode(model, np.zeros((1, 4))).shape == (1, 16, 16, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="latent dimension"):
        VAE(16, 0)
    with pytest.raises(ValueError, match="power of two"):
        GAN(40, 8)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_generative(ConvAutoencoder(16, 4, width=8).build_all(), IMAGES[:10], epochs=1, batch_size=32)


def test_weight_snapshots_equal_a_shorter_run(tmp_path):
    """The epoch-1 snapshot of a 3-epoch run *is* a 1-epoch run (same seed, same shuffles)."""
    set_seed(0)
    long_run = ConvAutoencoder(16, 4, width=8).build_all()
    train_generative(long_run, IMAGES, epochs=3, batch_size=32, seed=5, verbose=0,
                     callbacks=[WeightSnapshots([1, 3], tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001.weights.h5", "epoch_003.weights.h5"]
    set_seed(0)
    short_run = ConvAutoencoder(16, 4, width=8).build_all()
    train_generative(short_run, IMAGES, epochs=1, batch_size=32, seed=5, verbose=0)
    z = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    snap1 = load_snapshot(ConvAutoencoder(16, 4, width=8).build_all(), tmp_path, 1)
    snap3 = load_snapshot(ConvAutoencoder(16, 4, width=8).build_all(), tmp_path, 3)
    np.testing.assert_allclose(decode(snap1, z), decode(short_run, z), atol=1e-6)
    np.testing.assert_allclose(decode(snap3, z), decode(long_run, z), atol=1e-6)
    assert np.abs(decode(snap1, z) - decode(snap3, z)).max() > 1e-3
    with pytest.raises(FileNotFoundError, match="after epoch 2"):
        load_snapshot(short_run, tmp_path, 2)
    with pytest.raises(ValueError, match="count from 1"):
        WeightSnapshots([0], tmp_path)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_several_steps_per_execution_train_exactly_like_one(kind):
    """Running batches in one compiled call is a speed-up only: same losses, same weights, also
    when the batches of an epoch (4 here) are not a multiple of the steps per call (3)."""
    def run(steps: int):
        set_seed(0)
        model = (VAE(16, 4, width=8) if kind == "vae" else GAN(16, 4, width=8)).build_all()
        info = train_generative(model, IMAGES, epochs=2, batch_size=16, seed=5, verbose=0,
                                steps_per_execution=steps)
        return info["history"], decode(model, np.ones((2, 4), dtype="float32"))

    (hist_1, out_1), (hist_2, out_2) = run(1), run(3)
    assert hist_1.keys() == hist_2.keys()
    for key in hist_1:
        np.testing.assert_allclose(hist_1[key], hist_2[key], rtol=1e-5)
    np.testing.assert_allclose(out_1, out_2, atol=1e-5)


# --------------------------------------------------------------------------- options for issue 18

def _smooth_images(n: int = 64, size: int = 16, seed: int = 0) -> np.ndarray:
    """Learnable toy images: each a colour times a horizontal ramp plus a vertical one."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype="float32")
    colour, weight = rng.random((n, 1, 1, 3)), rng.random((n, 1, 1, 1))
    images = colour * (weight * ramp[None, None, :, None] + (1 - weight) * ramp[None, :, None, None])
    return images.astype("float32")


def _gan_optimizers(lr: float = 1e-2) -> dict:
    return {"d_optimizer": keras.optimizers.Adam(lr, beta_1=0.5),
            "g_optimizer": keras.optimizers.Adam(lr, beta_1=0.5)}


@pytest.mark.parametrize("warmup", [False, True])
def test_gan_ema_is_the_closed_form_moving_average(warmup):
    """Without warm-up, decay 0.5 after k generator updates w_1..w_k from w_0:
    ema = 0.5^k w_0 + sum_i 0.5^(k - i + 1) w_i. With it, update t (from 0) uses
    min(0.5, (1 + t) / (10 + t)): 0.1, 2/11, 0.25. Batch-norm statistics are copied."""
    set_seed(0)
    gan = GAN(16, 4, width=8, ema_decay=0.5, ema_warmup=warmup).build_all()
    gan.compile(**_gan_optimizers())
    trainable = [i for i, w in enumerate(gan.generator.weights) if w.trainable]
    frozen = [i for i, w in enumerate(gan.generator.weights) if not w.trainable]
    assert trainable and frozen                        # the kit's generator has batch norm
    history = [[gan.generator.weights[i].numpy() for i in trainable]]
    k = 3
    for step in range(k):
        gan.train_step(tf.constant(IMAGES[16 * step: 16 * (step + 1)]))
        history.append([gan.generator.weights[i].numpy() for i in trainable])
    decays = [min(0.5, (1 + t) / (10 + t)) if warmup else 0.5 for t in range(k)]
    for j, i in enumerate(trainable):
        if warmup:
            expected = history[0][j]
            for t, d in enumerate(decays):
                expected = d * expected + (1 - d) * history[t + 1][j]
        else:
            expected = 0.5**k * history[0][j] + sum(0.5 ** (k - s + 1) * history[s][j]
                                                    for s in range(1, k + 1))
        np.testing.assert_allclose(gan.ema_generator.weights[i].numpy(), expected, atol=1e-6)
    assert float(gan.ema_updates.numpy()) == k
    for i in frozen:
        np.testing.assert_array_equal(gan.ema_generator.weights[i].numpy(), gan.generator.weights[i].numpy())
    assert max(np.abs(gan.ema_generator.weights[i].numpy() - history[-1][j]).max()
               for j, i in enumerate(trainable)) > 1e-4
    # sampling uses the average; raw=True the trained generator
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(decode(gan, z), gan.ema_generator.predict(z, verbose=0), atol=1e-6)
    np.testing.assert_allclose(decode(gan, z, raw=True), gan.generator.predict(z, verbose=0), atol=1e-6)
    assert np.abs(generate(gan, 3) - generate(gan, 3, raw=True)).max() > 1e-4


def test_gan_ema_leaves_training_unchanged_and_none_adds_nothing(tmp_path):
    def run(ema_decay):
        set_seed(0)
        gan = GAN(16, 4, width=8, ema_decay=ema_decay).build_all()
        info = train_generative(gan, IMAGES, epochs=1, batch_size=16, seed=3, verbose=0)
        return gan, info["history"]

    plain, plain_hist = run(None)
    averaged, averaged_hist = run(0.9)
    assert not hasattr(plain, "ema_generator") and plain.sampler is plain.generator
    assert len(averaged.weights) == len(plain.weights) + len(plain.generator.weights) + 1   # + counter
    assert plain_hist == averaged_hist
    for a, b in zip(plain.generator.weights, averaged.generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the average is saved and loaded with the model (WeightSnapshots, the model cache)
    averaged.save_weights(tmp_path / "gan.weights.h5")
    again = GAN(16, 4, width=8, ema_decay=0.9).build_all()
    again.load_weights(tmp_path / "gan.weights.h5")
    z = np.ones((2, 4), "float32")
    np.testing.assert_allclose(decode(again, z), decode(averaged, z), atol=1e-6)
    with pytest.raises(ValueError, match="ema_decay must be in"):
        GAN(16, 4, ema_decay=1.0)


def test_gan_with_diffaugment_trains_and_sees_augmented_images():
    def first_step(diffaug):
        set_seed(0)
        gan = GAN(16, 4, width=8, diffaug=diffaug).build_all()
        gan.compile(**_gan_optimizers())
        before = [w.numpy() for w in gan.generator.trainable_weights]
        logs = gan.train_step(tf.constant(IMAGES[:16]))
        moved = max(np.abs(w.numpy() - b).max() for w, b in zip(gan.generator.trainable_weights, before,
                                                              strict=True))
        return {k: float(v) for k, v in logs.items()}, moved

    plain, _ = first_step("")
    augmented, moved = first_step("color,translation,cutout")
    assert all(np.isfinite(v) for v in augmented.values()) and moved > 0
    assert augmented["d_real_prob"] != pytest.approx(plain["d_real_prob"], abs=1e-6)
    # the generator's noise stream is its own: the same as without augmentation
    assert not hasattr(GAN(16, 4, width=8), "augment_seed")
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'zoom'"):
        GAN(16, 4, diffaug="color,zoom")


def test_training_dataset_flips_about_half_the_images_each_epoch():
    images = IMAGES                      # random pixels: no image is its own mirror
    flat, mirrored = images.reshape(len(images), -1), images[:, :, ::-1].reshape(len(images), -1)

    def epochs(flip, n=2):
        data = training_dataset(images, 16, seed=7, flip=flip)
        out = []
        for _ in range(n):
            batch = np.concatenate([b.numpy() for b in data]).reshape(len(images), -1)
            as_is = (batch[:, None] == flat[None]).all(-1).any(1)
            flipped = (batch[:, None] == mirrored[None]).all(-1).any(1)
            assert (as_is | flipped).all()           # every image is a training image or its mirror
            out.append(flipped)
        return out

    first, second = epochs(True)
    assert 0.25 < first.mean() < 0.75 and 0.25 < second.mean() < 0.75
    assert (first != second).any()                  # fresh coins every epoch
    np.testing.assert_array_equal(epochs(True, 1)[0], first)     # seeded
    assert not any(e.any() for e in epochs(False))
    info = train_generative(GAN(16, 4, width=8).build_all(), images, epochs=1, batch_size=16,
                            verbose=0, flip=True, adam_beta_1=0.0)
    assert info["flip"] is True and info["adam_beta_1"] == 0.0


def test_discriminator_gap_sees_a_memorising_discriminator():
    """A discriminator trained to call 16 images real and 16 others fake memorises them: near 1
    on its training reals, undecided on unseen images of the same kind."""
    rng = np.random.default_rng(0)
    train, other, heldout = (rng.random((16, 16, 16, 3)).astype("float32") for _ in range(3))
    set_seed(0)
    gan = GAN(16, 4, width=8).build_all()
    before = discriminator_gap(gan, train, heldout)
    gan.discriminator.compile(keras.optimizers.Adam(3e-3), keras.losses.BinaryCrossentropy(from_logits=True))
    gan.discriminator.fit(np.concatenate([train, other]), np.repeat([1.0, 0.0], 16)[:, None],
                          epochs=60, batch_size=32, verbose=0)
    after = discriminator_gap(gan, train, heldout)
    assert abs(before["gap"]) < 0.1
    assert after["train_real_prob"] > 0.9 and after["train_accuracy"] == 1.0
    assert after["gap"] > 0.2 and after["heldout_real_prob"] < after["train_real_prob"]
    assert discriminator_gap(gan, train, train)["gap"] == 0.0
    with pytest.raises(ValueError, match="heldout images must be a non-empty batch"):
        discriminator_gap(gan, train, heldout[:0])


def test_sigma_vae_learns_its_sigma_towards_the_reconstruction_error():
    images = _smooth_images()
    set_seed(0)
    vae = VAE(16, 4, width=8, loss="sigma").build_all()
    start_gap = abs(1.0 - np.sqrt(np.mean((reconstruct(vae, images) - images) ** 2)))   # sigma starts at 1
    info = train_generative(vae, images, epochs=6, batch_size=16, learning_rate=1e-2, verbose=0)
    h = info["history"]
    assert h["loss"][-1] < h["loss"][0] and h["reconstruction_loss"][-1] < h["reconstruction_loss"][0]
    assert np.all(np.diff(h["sigma"]) < 0) and h["sigma"][0] < 1.0
    sigma = float(np.exp(-6.0 + np.logaddexp(0.0, vae.log_sigma.numpy() + 6.0)))    # its soft floor
    rmse = float(np.sqrt(np.mean((reconstruct(vae, images) - images) ** 2)))
    # Adam moves log(sigma) by about the learning rate per step: part of the way, from above
    assert rmse < sigma and sigma - rmse < 0.85 * start_gap
    assert sigma == pytest.approx(h["sigma"][-1], rel=0.1)


def test_sigma_optimal_vae_and_defaults():
    images = _smooth_images()
    set_seed(0)
    vae = VAE(16, 4, width=8, loss="sigma-optimal").build_all()
    h = train_generative(vae, images, epochs=3, batch_size=16, learning_rate=3e-3, verbose=0)["history"]
    assert h["loss"][-1] < h["loss"][0]
    # sigma is the batch's root mean squared error (of sampled codes: a little above the means')
    rmse = float(np.sqrt(np.mean((reconstruct(vae, images) - images) ** 2)))
    assert rmse * 0.8 < h["sigma"][-1] < rmse * 2.0
    plain = VAE(16, 4, width=8).build_all()
    assert "sigma" not in {m.name for m in plain.metrics} and not hasattr(plain, "log_sigma")
    assert len(VAE(16, 4, width=8, loss="sigma").build_all().weights) == len(plain.weights) + 1
    with pytest.raises(ValueError, match="reconstruction loss must be one of"):
        VAE(16, 4, loss="l1")


def test_time_budget_stops_training_once_the_time_is_up():
    set_seed(0)
    budget = TimeBudget(0.5)
    info = train_generative(ConvAutoencoder(16, 4, width=8).build_all(), IMAGES, epochs=10_000, batch_size=16,
                            callbacks=[budget], verbose=0, steps_per_execution=1)
    assert 1 <= info["epochs_run"] < 10_000 and budget.seconds >= 0.5
    with pytest.raises(ValueError, match="time budget must be > 0"):
        TimeBudget(0)


LABELS = np.arange(64) % 3


def test_step_budget_stops_after_that_many_steps_across_epochs():
    set_seed(0)
    budget = StepBudget(7)   # 64 images in batches of 16: 4 steps an epoch
    info = train_generative(GAN(16, 4, width=8).build_all(), IMAGES, epochs=100, batch_size=16,
                            callbacks=[budget], verbose=0, steps_per_execution=1)
    assert budget.steps == 7 and info["epochs_run"] == 2 and budget.seconds > 0
    # in groups of 3 steps an epoch runs 3 + 1; the budget stops at the end of the first
    # group that reaches it: 3 + 1 + 3 = 7 steps for a budget of 6
    budget = StepBudget(6)
    model = ConvAutoencoder(16, 4, width=8).build_all()
    train_generative(model, IMAGES, epochs=100, batch_size=16, callbacks=[budget], verbose=0,
                     steps_per_execution=3)
    assert budget.steps == steps_taken(model) == 7
    with pytest.raises(ValueError, match="step budget must be an integer >= 1"):
        StepBudget(0)


def test_gan_options_off_build_exactly_todays_networks():
    plain = GAN(16, 4, width=8).build_all()
    same = GAN(16, 4, width=8, g_width=8, d_widths=(8, 16)).build_all()
    assert [w.shape for w in plain.weights] == [w.shape for w in same.weights]
    assert [m.name for m in plain.metrics] == ["d_loss", "g_loss", "d_real_prob", "d_fake_prob"]
    assert not plain.conditional and not hasattr(plain, "label_frequencies")
    narrow = GAN(16, 4, width=8, g_width=4).build_all()
    assert narrow.generator.count_params() < plain.generator.count_params()
    assert narrow.discriminator.count_params() == plain.discriminator.count_params()
    with pytest.raises(ValueError, match="loss must be one of"):
        GAN(16, 4, loss="wasserstein")
    with pytest.raises(ValueError, match="leave g_width, n_classes unset"):
        GAN(16, 4, course=True, g_width=8, n_classes=3)


def test_conditional_gan_trains_on_labels_and_samples_the_asked_classes():
    set_seed(0)
    gan = GAN(16, 4, width=8, n_classes=3).build_all()
    skewed = np.where(np.arange(64) < 48, 2, LABELS)      # class 2 is most of the data
    info = train_generative(gan, IMAGES, epochs=1, batch_size=16, verbose=0, labels=skewed)
    assert info["history"]["d_loss"][0] > 0
    counts = np.bincount(skewed, minlength=3) / 64
    np.testing.assert_allclose(gan.label_frequencies.numpy(), counts)
    drawn = sample_labels(gan, 2000, seed=1)
    assert abs(np.mean(drawn == 2) - counts[2]) < 0.05 and set(drawn) <= {0, 1, 2}
    np.testing.assert_array_equal(drawn, sample_labels(gan, 2000, seed=1))
    # the label steers the image: one noise vector, three classes, three different images
    z = np.repeat(np.ones((1, 4), "float32"), 3, axis=0)
    images = decode(gan, z, labels=np.array([0, 1, 2]))
    assert not np.allclose(images[0], images[1]) and not np.allclose(images[1], images[2])
    np.testing.assert_allclose(decode(gan, z[:1], labels=np.array([1])), images[1:2], atol=1e-6)
    np.testing.assert_allclose(generate(gan, 2, seed=5, labels=np.array([1, 1])),
                               decode(gan, sample_latent(2, 4, 5), labels=np.array([1, 1])), atol=1e-6)
    assert generate(gan, 5, seed=0).shape == (5, 16, 16, 3)
    rows = generate_by_class(gan, 4, seed=2)                    # one row per class, the same noise
    assert rows.shape == (3, 4, 16, 16, 3)
    np.testing.assert_allclose(rows[1], generate(gan, 4, seed=2, labels=np.ones(4, "int32")), atol=1e-6)
    with pytest.raises(TypeError, match="needs a conditional GAN"):
        generate_by_class(GAN(16, 4, width=8).build_all(), 2)
    gap = discriminator_gap(gan, IMAGES[:32], IMAGES[32:], train_labels=skewed[:32],
                            heldout_labels=skewed[32:])
    assert -1 <= gap["gap"] <= 1
    with pytest.raises(ValueError, match="needs the train images' labels"):
        discriminator_gap(gan, IMAGES[:32], IMAGES[32:])
    with pytest.raises(ValueError, match="pass labels="):
        decode(gan, z)
    with pytest.raises(ValueError, match="labels= go with a conditional GAN"):
        train_generative(gan, IMAGES, epochs=1, batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="labels= go with a conditional GAN"):
        train_generative(GAN(16, 4, width=8).build_all(), IMAGES, epochs=1, batch_size=16, verbose=0,
                         labels=LABELS)


def test_conditional_gan_monitor_draws_the_classes_in_turn(tmp_path):
    set_seed(0)
    gan = GAN(16, 4, width=8, n_classes=3).build_all()
    monitor = GANMonitor(np.ones((6, 4), "float32"))
    train_generative(gan, IMAGES, epochs=1, batch_size=32, verbose=0, labels=LABELS, callbacks=[monitor])
    sample = monitor.samples[0]
    np.testing.assert_array_equal(sample[0], sample[3])          # class 0 twice, same noise
    assert not np.array_equal(sample[0], sample[1])


def _one_d_step(**options):
    set_seed(0)
    gan = GAN(16, 4, width=8, **options).build_all()
    before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    info = train_generative(gan, IMAGES[:16], epochs=1, batch_size=16, verbose=0, steps_per_execution=1)
    return gan, before, info["history"]


def _d_weights_after_one_step(first_iteration: int = 0, **options):
    """The discriminator's weights after one training step from a seeded start, with the
    optimisers' step counter starting at ``first_iteration``."""
    set_seed(0)
    gan = GAN(16, 4, width=8, **options).build_all()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), steps_per_execution=1)
    gan.d_optimizer.build(gan.discriminator.trainable_weights)
    gan.d_optimizer.iterations.assign(first_iteration)
    logs = gan.train_on_batch(tf.constant(IMAGES[:16]), return_dict=True)
    return [w.numpy() for w in gan.discriminator.trainable_weights], logs


def test_r1_penalty_changes_the_discriminators_update_only_when_due():
    plain, _ = _d_weights_after_one_step()
    penalised, logs = _d_weights_after_one_step(r1_gamma=10.0, r1_every=4)      # iteration 0: due
    assert logs["r1_penalty"] > 0
    assert any(not np.allclose(p, q) for p, q in zip(plain, penalised, strict=True))
    # iteration 1 of every 4: not due, the same update as without the penalty
    plain, _ = _d_weights_after_one_step(1)
    lazy, logs = _d_weights_after_one_step(1, r1_gamma=10.0, r1_every=4)
    for p, q in zip(plain, lazy, strict=True):
        np.testing.assert_allclose(p, q, atol=1e-6)
    with pytest.raises(ValueError, match="r1_gamma must be >= 0"):
        GAN(16, 4, r1_gamma=-1.0)


def test_hinge_loss_and_spectral_norm_train():
    gan, _, hist = _one_d_step(loss="hinge", spectral_norm=True)
    # hinge: the discriminator's loss is relu(1 - real) + relu(1 + fake): 2 for logits near 0
    assert 1.5 < hist["d_loss"][0] < 2.5
    kernels = [layer.layer.kernel.numpy() for layer in gan.discriminator.layers
               if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(kernels) == 3
    for kernel in kernels:                 # every kernel was rescaled by its (estimated) top singular value
        assert np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), 2) < 1.5


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_recalibrated_batch_norm_holds_the_samplers_exact_statistics(ema_decay):
    set_seed(0)
    gan = GAN(16, 4, width=8, ema_decay=ema_decay).build_all()
    train_generative(gan, IMAGES, epochs=1, batch_size=16, verbose=0)
    net = gan.sampler
    first = net.get_layer("norm_in")
    before = first.moving_mean.numpy().copy()
    recalibrate_batch_norm(gan, n=64, seed=3, batch_size=16)
    # the first layer's input does not depend on other statistics: its mean over the 64 vectors
    inputs = keras.Model(net.inputs, first.input)(sample_latent(64, 4, 3)).numpy()
    np.testing.assert_allclose(first.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    assert not np.allclose(before, first.moving_mean.numpy())
    assert first.momentum == 0.99 and first.trainable == (ema_decay is None)
    again = [w.numpy() for w in net.non_trainable_weights]
    recalibrate_batch_norm(gan, n=64, seed=3, batch_size=16)                # the same again
    for a, b in zip(again, net.non_trainable_weights, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------- notebook 01's named models
def test_named_models_train_once_keep_snapshots_and_key_on_recipe_and_data(monkeypatch, tmp_path):
    from idl_utils.generative import (
        CAERecipe,
        GANRecipe,
        VAERecipe,
        equal_time_models,
        gan_progress_dir,
        kit_cae,
        kit_gan,
        kit_vae,
        model_key,
        sample_models,
    )

    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IDL_PROGRESS", "summary")
    vae_recipe = VAERecipe(latent_dim=4, width=8, epochs=2, batch_size=32, snapshots=(1,))
    gan_recipe = GANRecipe(latent_dim=8, width=8, epochs=2, batch_size=32, snapshots=(1,), progress=4)
    vae, vae_info = kit_vae(IMAGES, vae_recipe, seed=1)
    again, again_info = kit_vae(IMAGES, vae_recipe, seed=1)   # from the cache: the same weights
    np.testing.assert_array_equal(encode(vae, IMAGES[:4]), encode(again, IMAGES[:4]))
    assert again_info["history"] == vae_info["history"] and vae_info["epochs"] == 2
    gan, gan_info = kit_gan(IMAGES, gan_recipe, seed=1)
    assert len(sorted(gan_progress_dir(IMAGES, gan_recipe, seed=1).glob("epoch_*.png"))) == 2
    cae, _ = kit_cae(IMAGES, CAERecipe(latent_dim=4, width=8, epochs=1, batch_size=32), seed=1)
    # the key follows the recipe and the exact pixels
    assert model_key(vae_recipe, IMAGES) != model_key(vae_recipe, IMAGES[:-1])
    assert model_key(vae_recipe, IMAGES) != model_key(VAERecipe(latent_dim=4, width=8), IMAGES)
    models = equal_time_models(IMAGES, (vae_recipe, vae_info), (gan_recipe, gan_info), 1, seed=1)
    assert list(models) == ["VAE (kit, 1 epochs)", "GAN (kit, 1 epochs)",
                            "VAE (course, 1 epochs)", "GAN (course, 1 epochs)"]
    early, early_info = models["VAE (kit, 1 epochs)"]
    assert early_info["epochs"] == 1 and early_info["seconds"] == pytest.approx(vae_info["seconds_per_epoch"])
    assert np.abs(encode(early, IMAGES[:4]) - encode(vae, IMAGES[:4])).max() > 1e-5   # an earlier state
    course, course_info = models["GAN (course, 1 epochs)"]
    assert course_info["epochs"] == 1 and course.generator.count_params() > gan.generator.count_params()
    samples = sample_models({"cae": cae, "vae": vae, "gan": gan}, 3, seed=0, vae_prior="gmm", images=IMAGES,
                            n_components=2)
    assert {k: v.shape for k, v in samples.items()} == {k: (3, 16, 16, 3) for k in ("cae", "vae", "gan")}
    expected = generate(vae, 3, 0, prior="gmm", images=IMAGES, n_components=2)
    np.testing.assert_array_equal(samples["vae"], expected)


def test_a_conditional_recalibrated_kit_gan_keys_on_its_labels_and_samples_every_class(monkeypatch, tmp_path):
    from idl_utils.generative import (
        GANRecipe,
        class_rows,
        generate_by_class,
        interpolation_rows,
        kit_gan,
        model_key,
        recalibrate_batch_norm,
    )

    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("IDL_PROGRESS", "summary")
    labels = np.arange(len(IMAGES)) % 3
    recipe = GANRecipe(latent_dim=8, width=8, epochs=1, batch_size=32, progress=4, conditional=True,
                       recalibrate=True)
    with pytest.raises(ValueError, match="labels="):
        kit_gan(IMAGES, recipe, seed=1)
    with pytest.raises(ValueError, match="one per image"):
        kit_gan(IMAGES, recipe, labels=labels[:-1], seed=1)
    gan, _ = kit_gan(IMAGES, recipe, labels=labels, seed=1)
    assert gan.conditional and gan.n_classes == 3
    assert generate_by_class(gan, 2, seed=0).shape == (3, 2, 16, 16, 3)
    assert list(class_rows(gan, ["a", "b", "c", "unused"], 2, seed=0)) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="label names"):
        class_rows(gan, ["a"], 2)
    rows = interpolation_rows({"GAN": gan}, 4, seed=2)
    assert {k: v.shape for k, v in rows.items()} == {f"GAN {path}": (4, 16, 16, 3)
                                                     for path in ("linear", "spherical")}
    # from the cache: recalibrated again, so it samples exactly as the first did
    again, _ = kit_gan(IMAGES, recipe, labels=labels, seed=1)
    np.testing.assert_array_equal(generate(gan, 4, seed=5), generate(again, 4, seed=5))
    # recalibration is what sampling saw: doing it again changes nothing
    recalibrate_batch_norm(again, seed=1)
    np.testing.assert_array_equal(generate(gan, 4, seed=5), generate(again, 4, seed=5))
    # other labels, another model; an unconditional recipe ignores labels
    assert model_key(recipe, IMAGES, labels=labels) != model_key(recipe, IMAGES, labels=labels[::-1])
    plain = recipe.with_(conditional=False, recalibrate=False, progress=0)
    assert not kit_gan(IMAGES, plain, labels=labels, seed=1)[0].conditional


def test_interpolation_rows_run_from_the_prior_the_model_samples_from():
    from idl_utils.generative import interpolation_rows, latent_codes, training_columns, training_summary

    set_seed(0)
    vae = VAE(16, 4, width=8, seed=0).build_all()
    rows = interpolation_rows({"VAE": vae}, 5, seed=3, vae_prior="gmm", images=IMAGES, n_components=2)
    assert list(rows) == ["VAE linear", "VAE spherical"] and rows["VAE linear"].shape == (5, 16, 16, 3)
    z0, z1 = latent_codes(vae, 2, 3, prior="gmm", images=IMAGES, n_components=2)
    np.testing.assert_allclose(rows["VAE linear"][[0, -1]], decode(vae, np.stack([z0, z1])), atol=1e-6)
    record = {"epochs": 4, "seconds": 10.04, "seconds_per_epoch": 2.511}
    assert training_columns({"m": record}) == {"m": {"epochs": 4, "s/epoch": 2.5}}
    summary = training_summary({"m": record})
    assert summary == {"m": {"epochs": 4, "train_seconds": 10.0, "epoch_seconds": 2.51}}
