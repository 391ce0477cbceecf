import numpy as np
import pytest
from PIL import Image

from idl_utils.image_data import (
    OPENMOJI_LABELS,
    DatasetCard,
    ImageDataset,
    augment_with_flips,
    image_grid,
    load_image_dataset,
    openmoji_label,
    plot_image_grid,
    plot_image_rows,
    to_rgb_array,
)


def _write_images(folder):
    (folder / "sub").mkdir(parents=True)
    rgba = Image.new("RGBA", (40, 20), (255, 0, 0, 0))  # fully transparent red -> white
    rgba.paste((0, 0, 255, 255), (15, 5, 25, 15))       # opaque blue square in the middle
    rgba.save(folder / "a.png")
    Image.new("L", (30, 30), 0).save(folder / "sub" / "b.jpg")
    Image.new("RGB", (16, 16), (0, 255, 0)).save(folder / "sub" / "c.webp")
    Image.new("RGB", (16, 16), (0, 255, 0)).save(folder / "d.bmp")
    Image.new("P", (16, 16), 3).save(folder / "e.gif")
    (folder / "broken.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("ignored: not an image suffix")


def test_folder_of_mixed_images(tmp_path):
    _write_images(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 unreadable file"):
        data = load_image_dataset(tmp_path, image_size=16)
    assert data.images.shape == (5, 16, 16, 3) and data.images.dtype == np.float32
    assert data.images.min() >= 0 and data.images.max() <= 1
    first = data.images[data.ids.index("a.png")]
    np.testing.assert_allclose(first[0, 0], [1, 1, 1])                 # transparency -> white
    np.testing.assert_allclose(first[8, 8], [0, 0, 1], atol=0.05)      # centre crop keeps the middle
    assert data.images[data.ids.index("sub/b.jpg")].max() < 0.05       # grayscale -> RGB
    assert data.card.n_images == 5 and "skipped files" in data.card.details
    assert "Dataset card" in data.card.markdown()


def test_bad_folders_give_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No images in"):
        load_image_dataset(empty, image_size=16)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for i in range(3):
        (corrupt / f"x{i}.jpg").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="None of the 3 image file"):
        load_image_dataset(corrupt, image_size=16)
    with pytest.raises(ValueError, match="Unknown image source"):
        load_image_dataset(tmp_path / "does-not-exist", image_size=16)
    with pytest.raises(ValueError, match="power of two"):
        load_image_dataset(empty, image_size=50)


def test_tfds_errors_are_fast_and_clear(monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match="Unknown tensorflow-datasets name"):
        load_image_dataset("tfds:no_such_dataset_xyz", image_size=16)
    monkeypatch.setenv("IDL_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="no network"):
        load_image_dataset("tfds:tf_flowers", image_size=16)


def _check_openmoji(tmp_path, n_files: int) -> None:
    """Loading OpenMoji: the whole set, a cache, seeded subsets and limits."""
    data = load_image_dataset("openmoji", image_size=16)
    assert len(data) == n_files and data.images.shape[1:] == (16, 16, 3)
    assert "CC BY-SA 4.0" in data.card.licence and "OpenMoji" in data.card.description
    assert data.labels.max() < len(OPENMOJI_LABELS)
    assert list((tmp_path / "openmoji").glob("*16px.npz"))
    limit = min(100, n_files // 3)
    again = load_image_dataset("openmoji", image_size=16, subset="single", limit=limit, seed=1)
    assert len(again) == limit and all("-" not in s for s in again.ids)
    assert np.array_equal(again.images, load_image_dataset("openmoji", image_size=16, subset="single",
                                                           limit=limit, seed=1).images)
    faces = load_image_dataset("openmoji", image_size=16, subset="faces")
    single = load_image_dataset("openmoji", image_size=16, subset="single")
    assert 0 < len(faces) < len(single) < len(data) and set(faces.ids) <= set(single.ids)
    # each card says what its data is good for; the default's says why it is the default
    assert "default" in data.card.description and "uniform" in faces.card.description
    assert "default" not in faces.card.description and "face emoji" in faces.card.description
    with pytest.raises(ValueError, match="Unknown OpenMoji subset"):
        load_image_dataset("openmoji", image_size=16, subset="cats")


def test_openmoji_offline_default_is_cached(tmp_path, monkeypatch):
    """A fixed sample (every 40th of the 4,495 SVGs: 113 emoji, 4 of them faces) rasterised for
    real; the whole set is in the very_slow test below (and notebook 01 loads it in every run)."""
    from idl_utils import image_data

    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))
    every = image_data._openmoji_files()
    assert len(every) > 4000
    sample = every[::40]
    monkeypatch.setattr(image_data, "_openmoji_files", lambda: sample)
    _check_openmoji(tmp_path, len(sample))
    # the cache is what a second load reads: nothing is rasterised again
    monkeypatch.setattr(image_data, "_rasterise_openmoji", lambda *a: pytest.fail("cache not used"))
    assert len(load_image_dataset("openmoji", image_size=16)) == len(sample)


@pytest.mark.very_slow
def test_openmoji_offline_default_is_cached_all_svgs(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))
    from idl_utils.image_data import _openmoji_files

    _check_openmoji(tmp_path, len(_openmoji_files()))
    faces = load_image_dataset("openmoji", image_size=16, subset="faces")
    assert 50 < len(faces) < 300


def test_helpers():
    assert OPENMOJI_LABELS[openmoji_label("1F600")] == "faces & emotion"
    assert OPENMOJI_LABELS[openmoji_label("1F1E9-1F1EA")] == "flags"
    img = to_rgb_array(Image.new("LA", (10, 20), (0, 0)), 16)
    assert img.shape == (16, 16, 3) and img.min() == 1.0
    x = np.zeros((3, 4, 4, 3), "float32")
    x[:, :, 0] = 1  # left column white
    card = DatasetCard("toy", "test", "", "none", 3, 4, "three toy images")
    flipped = augment_with_flips(ImageDataset(x, card, np.arange(3), ids=("a", "b", "c")))
    assert len(flipped) == 6 and flipped.card.n_images == 6 and flipped.labels.tolist() == [0, 1, 2] * 2
    assert flipped.images[3][:, -1].min() == 1 and flipped.images[3][:, 0].max() == 0
    assert image_grid(x, ncols=2, pad=1).shape == (9, 9, 3)


def test_plots_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    x = np.random.default_rng(0).random((5, 8, 8, 3)).astype("float32")
    fig = plot_image_rows({"a": x, "b": x[:2]}, title="rows")
    assert len(fig.axes) == 10
    assert plot_image_grid(x, 3, "grid").axes


def test_attribute_mask_takes_the_label_or_falls_back_to_dark_images():
    from idl_utils.image_data import DatasetCard, ImageDataset, attribute_mask

    images = np.stack([np.full((4, 4, 3), v, "float32") for v in (0.1, 0.9, 0.2, 0.8)])
    card = DatasetCard("toy", "toy", "", "", 4, 4, "")
    labelled = ImageDataset(images, card, np.array([1, 0, 1, 0]), ("other", "faces & emotion"))
    mask, name = attribute_mask(labelled)
    assert name == "face" and mask.tolist() == [True, False, True, False]
    one_face = ImageDataset(images, card, np.array([1, 0, 0, 0]), ("other", "faces & emotion"))
    mask, name = attribute_mask(one_face)                     # too few faces: the dark half instead
    assert name == "dark" and mask.tolist() == [True, False, True, False]
    assert attribute_mask(ImageDataset(images, card))[1] == "dark"
