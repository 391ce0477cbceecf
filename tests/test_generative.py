import numpy as np
import pytest

from idl_utils.config import set_seed
from idl_utils.generative import (
    GAN,
    VAE,
    ConvAutoencoder,
    GANMonitor,
    WeightSnapshots,
    decode,
    encode,
    generate,
    load_snapshot,
    reconstruction_errors,
    train_generative,
)

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
