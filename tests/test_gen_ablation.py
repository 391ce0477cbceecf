import json

import numpy as np
import pytest

from idl_utils.features import FeatureExtractor
from idl_utils.gen_ablation import (
    VARIANTS,
    faces_vs_all,
    generative_ablation,
    parse_variants,
    write_ablation,
)


def _images(n: int = 96, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, size, dtype="float32")
    colour, weight = rng.random((n, 1, 1, 3)), rng.random((n, 1, 1, 1))
    return (colour * (weight * ramp[None, None, :, None] + (1 - weight) * ramp[None, :, None, None])
            ).astype("float32")


def _pooled(images: np.ndarray) -> np.ndarray:
    """A cheap real feature space: 4x4 average-pooled pixels, 48 numbers per image."""
    n, h, w, _ = images.shape
    return images.reshape(n, 4, h // 4, 4, w // 4, 3).mean((2, 4)).reshape(n, -1)


POOLED = FeatureExtractor("4x4 pooled pixels", _pooled, 48)


def test_parse_variants():
    assert parse_variants(" base, ema ,") == ["base", "ema"]
    assert {"base", "ema", "beta1", "diffaug", "flip", "all", "vae", "vae-gmm"} <= set(VARIANTS)
    with pytest.raises(ValueError, match="unknown generative ablation variant.*'wgan'"):
        parse_variants("base,wgan")


@pytest.mark.slow
def test_tiny_ablation_trains_every_variant_for_the_budget_and_tabulates(tmp_path):
    names = ["base", "all", "vae-all"]  # between them every option (the plain VAE: notebook 01)
    result = generative_ablation(_images(), names, seconds=1.0, extractor=POOLED, seed=3, holdout=32,
                                 n_score=32, gan_recipe={"latent_dim": 8, "width": 8, "batch_size": 16},
                                 vae_recipe={"latent_dim": 4, "width": 8, "batch_size": 16})
    rows = result["rows"]
    assert [r["variant"] for r in rows] == ["real (training images)", *names]
    for row in rows[1:]:
        assert row["steps"] >= 1 and row["train seconds"] >= 1.0
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
        assert " ± " in row["KID ± std"]
    gaps = {r["variant"]: r["D gap"] for r in rows}
    assert isinstance(gaps["base"], float) and isinstance(gaps["all"], float) and gaps["vae-all"] == ""
    assert result["config"]["n_train"] == 64 and result["config"]["features"] == "4x4 pooled pixels"
    json_path, md_path = write_ablation(result, tmp_path)
    assert json.loads(json_path.read_text())["rows"][1]["variant"] == "base"
    table = [line for line in md_path.read_text().splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(rows)                 # header + a row per variant and the floor
    assert all(any(line.startswith(f"| {name} |") for line in table) for name in names)
    with pytest.raises(ValueError, match="holdout must be between"):
        generative_ablation(_images(), ["base"], seconds=1.0, extractor=POOLED, holdout=80)


def test_save_grids_writes_one_png_per_set_with_safe_names(tmp_path):
    from PIL import Image

    from idl_utils.gen_ablation import save_grids

    images = _images(n=20, size=16)
    sets = {"real (training images)": images, "base": images[:5]}
    paths = save_grids(sets, tmp_path / "grids", n=12, ncols=6)
    assert [p.name for p in paths] == ["real_training_images.png", "base.png"]
    with Image.open(paths[0]) as im:                 # 12 images in 2 rows of 6, 2-pixel gaps
        assert im.size == (6 * 18 - 2, 2 * 18 - 2)
    with Image.open(paths[1]) as im:                 # 5 images: one row of 5
        assert im.size == (5 * 18 - 2, 16)
    assert not list((tmp_path / "grids").glob(".tmp-*"))


def test_ablation_verdicts_compare_each_variant_with_its_own_base():
    from idl_utils.gen_ablation import ablation_verdicts, best_variants

    def s(kid, std=0.002, precision=0.5, recall=0.4):
        return {"kid": kid, "kid_std": std, "precision": precision, "recall": recall}

    result = {"scores": {"real (training images)": s(0.0), "base": s(0.09), "ema": s(0.05),
                         "flip": s(0.091), "beta1": s(0.2), "vae": s(0.13), "vae-sigma": s(0.08),
                         "vae-gmm": s(0.129)}}
    lines = ablation_verdicts(result)
    assert [line.split(" vs ")[0] for line in lines] == ["ema", "flip", "beta1", "vae-sigma", "vae-gmm"]
    assert "ema better" in lines[0] and "a tie" in lines[1] and "base better" in lines[2]
    assert "vae-sigma better" in lines[3] and "a tie" in lines[4]
    assert ablation_verdicts({"scores": {"ema": s(0.05)}}) == []      # no base: nothing to say
    # the equal-time table has no "base": its GANs are measured against today's recipe
    equal = ablation_verdicts({"scores": {"today": s(0.09), "w32": s(0.05), "cond": s(0.091)}})
    assert [line.split(" -- ")[0].split(":")[0] for line in equal] == ["w32 vs today", "cond vs today"]
    assert best_variants(result) == {"gan": "ema", "vae": "vae-sigma"}   # the real floor is no variant
    assert best_variants({"scores": {"vae": s(0.1)}}) == {"vae": "vae"}


def test_load_ablation_reads_what_write_ablation_wrote(tmp_path):
    from idl_utils.gen_ablation import load_ablation

    assert load_ablation(tmp_path) is None
    result = {"config": {"seconds": 1, "n_train": 4, "n_score": 2, "seed": 0, "features": "f"},
              "rows": [{"variant": "base", "KID ± std": "0.1 ± 0.01"}], "scores": {"base": {"kid": 0.1}}}
    write_ablation(result, tmp_path)
    assert load_ablation(tmp_path) == result
    (tmp_path / "ablation_generative.json").write_text('{"rows": []}')
    with pytest.raises(ValueError, match="not a generative ablation result.*make ablation"):
        load_ablation(tmp_path)


def test_merge_ablations_joins_runs_of_the_same_setup(tmp_path):
    from idl_utils.gen_ablation import main, merge_ablations, save_grids

    def run(*names, seconds=1):
        config = {"n_images": 8, "n_train": 4, "holdout": 4, "n_score": 2, "seconds": seconds, "seed": 0,
                  "features": "f", "recipes": {}, "variants": {n: n for n in names}}
        rows = [{"variant": n} for n in ("real (training images)", *names)]
        scores = {n: {"kid": 0.1 * i} for i, n in enumerate(("real (training images)", *names))}
        return {"config": config, "rows": rows, "scores": scores}

    merged = merge_ablations([run("base", "ema"), run("diffaug")])
    by_steps = [run(*names) for names in (("today",), ("cond",))]
    for part, n in zip(by_steps, (2350, 4130), strict=True):
        part["config"].update(budget="steps", steps={part["rows"][1]["variant"]: n})
    assert merge_ablations(by_steps)["config"]["steps"] == {"today": 2350, "cond": 4130}
    assert [r["variant"] for r in merged["rows"]] == ["real (training images)", "base", "ema", "diffaug"]
    assert list(merged["config"]["variants"]) == ["base", "ema", "diffaug"]
    assert merged["config"]["merged_runs"] == 2
    assert merged["scores"]["diffaug"] == {"kid": 0.1}
    with pytest.raises(ValueError, match="differ in seconds"):
        merge_ablations([run("base"), run("ema", seconds=2)])
    with pytest.raises(ValueError, match="'base' is in more than one"):
        merge_ablations([run("base"), run("base")])
    # the command line: two folders with their grids -> one table and every grid
    for i, part in enumerate((run("base"), run("ema"))):
        write_ablation({**part, "config": {**part["config"], "n_score": 2}}, tmp_path / f"p{i}")
        sets = {"real (training images)": np.zeros((2, 4, 4, 3)), ("base", "ema")[i]: np.ones((2, 4, 4, 3))}
        save_grids(sets, tmp_path / f"p{i}" / "grids")
    assert main(["--merge", str(tmp_path / "p0"), str(tmp_path / "p1"), "--out", str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all" / "grids").iterdir()) == [
        "base.png", "ema.png", "real_training_images.png"]
    assert "| ema |" in (tmp_path / "all" / "ablation_generative.md").read_text()


def test_dataset_comparison_puts_each_variant_beside_its_own_datasets_floor():
    from idl_utils.gen_ablation import dataset_comparison

    def run(n_train, floor, **variants):
        scores = {"real (training images)": {"kid": floor, "kid_std": 0.001, "precision": 0.8, "recall": 0.8}}
        scores.update({name: {"kid": kid, "kid_std": 0.002, "precision": 0.3, "recall": 0.1, "epochs": 3,
                              **({"discriminator_gap": {"gap": 0.25}} if name == "beta1" else {})}
                       for name, kid in variants.items()})
        return {"config": {"n_train": n_train}, "scores": scores}

    rows = dataset_comparison({"all": run(3995, 0.0001, beta1=0.095, vae_gmm=0.05),
                               "faces": run(83, 0.004, beta1=0.03)})
    # "vae_gmm" is no variant name (the real one is "vae-gmm"): only known variants become rows
    assert [(r["data"], r["variant"]) for r in rows] == [("all", "beta1"), ("faces", "beta1")]
    assert rows[1]["training images"] == 83 and rows[1]["D gap"] == 0.25
    assert rows[1]["KID ± std"].startswith("0.03") and rows[1]["floor KID"].startswith("0.004")
    rows = dataset_comparison({"faces": run(83, 0.004, **{"vae-gmm": 0.05})})
    assert rows[0]["variant"] == "vae-gmm" and rows[0]["D gap"] == ""


TINY_GAN = {"latent_dim": 8, "width": 8, "batch_size": 16}


def test_equal_time_steps_buy_each_variant_the_steps_of_the_same_seconds():
    from idl_utils.gen_ablation import equal_time_steps

    costs = {"ratio": {"today": 1.0, "g32": 0.5, "cond": 0.52}}
    # 714 s at 255 ms a step: 2,800 steps for the reference, twice as many at half the cost
    assert equal_time_steps(costs, ["today", "g32"], 714.0, 255.0) == {"today": 2800, "g32": 5600}
    assert equal_time_steps(costs, ["cond"], 714.0, 255.0, multiple=10)["cond"] == 5380   # 5384.6 -> 5380
    with pytest.raises(ValueError, match="no measured step cost for w32"):
        equal_time_steps(costs, ["today", "w32"], 714.0)


def test_time_steps_times_every_variant_in_alternation():
    from idl_utils.gen_ablation import GAN_RECIPE, VAE_RECIPE, time_steps

    images = _images(n=64)
    costs = time_steps(images, ["today", "cond"], labels=np.arange(64) % 3, steps=10, rounds=2,
                       recipes={"gan": {**GAN_RECIPE, **TINY_GAN}, "vae": VAE_RECIPE})
    assert costs["reference"] == "today" and costs["ratio"]["today"] == 1.0
    assert set(costs["ms_per_step"]) == {"today", "cond"}
    assert all(v > 0 for v in costs["ms_per_step"].values())
    assert [len(r) for r in costs["rounds"].values()] == [2, 2] and costs["steps"] == 10


@pytest.mark.slow
def test_step_budget_ablation_trains_each_variant_its_steps_and_samples_conditional_ones_by_label(tmp_path):
    from idl_utils.gen_ablation import ablation_markdown

    labels = np.arange(96) % 3
    costs = {"reference": "today", "ms_per_step": {"today": 10.0, "cond": 5.0},
             "ratio": {"today": 1.0, "cond": 0.5}}
    result = generative_ablation(_images(), ["today", "cond"], equal_time=0.2, step_costs=costs,
                                 reference_ms=10.0, extractor=POOLED, seed=3, holdout=32, n_score=32,
                                 labels=labels, gan_recipe=TINY_GAN, grid_dir=tmp_path / "grids")
    from PIL import Image

    with Image.open(tmp_path / "grids" / "cond_by_class.png") as im:      # 3 classes x 12, 16 px
        assert im.size == (12 * 18 - 2, 3 * 18 - 2)
    assert not (tmp_path / "grids" / "today_by_class.png").exists()
    scores = result["scores"]
    assert scores["today"]["steps"] == 20 and scores["cond"]["steps"] == 40     # 0.2 s at 10 and 5 ms
    assert scores["cond"]["equal_time_seconds"] == pytest.approx(0.2)
    assert result["config"]["budget"] == "steps" and result["config"]["steps"] == {"today": 20, "cond": 40}
    assert isinstance(scores["cond"]["discriminator_gap"]["gap"], float)
    table = ablation_markdown(result)
    assert "equal time" in table and "| ms/step | cost vs ref | equal-time seconds |" in table
    assert "| cond | GAN |" in table
    # 64 training images, 4 steps an epoch: 8 steps are two whole epochs
    fixed = generative_ablation(_images(), ["today"], steps=8, extractor=POOLED, seed=3, holdout=32,
                                n_score=32, gan_recipe=TINY_GAN)
    assert fixed["scores"]["today"]["steps"] == 8 and "a fixed number of steps" in ablation_markdown(fixed)
    with pytest.raises(ValueError, match="give one budget"):
        generative_ablation(_images(), ["today"], seconds=1.0, steps=10, extractor=POOLED)
    with pytest.raises(ValueError, match="needs the images' labels"):
        generative_ablation(_images(), ["cond"], steps=10, extractor=POOLED, holdout=32, gan_recipe=TINY_GAN)


@pytest.mark.slow
def test_sampling_variants_reuse_their_trainers_cached_model(tmp_path):
    from idl_utils.gen_ablation import equal_time_steps, training_name

    assert training_name("w32-bn") == "w32" and training_name("cond") == "cond"
    steps = equal_time_steps({"ratio": {"w32": 0.5}}, ["w32", "w32-bn"], 1.0, 10.0)
    assert steps == {"w32": 200, "w32-bn": 200}
    tiny = {"latent_dim": 8, "batch_size": 16}
    first = generative_ablation(_images(), ["w32", "w32-bn"], steps=8, extractor=POOLED, seed=3, holdout=32,
                                n_score=32, gan_recipe=tiny, cache_models=True)
    trained = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith("gen_ablation_gan"))
    assert len(trained) == 1                               # w32-bn loaded w32's model
    a, b = first["scores"]["w32"], first["scores"]["w32-bn"]
    assert a["steps"] == b["steps"] == 8 and a["kid"] != b["kid"]    # same model, other statistics
    again = generative_ablation(_images(), ["w32"], steps=8, extractor=POOLED, seed=3, holdout=32,
                                n_score=32, gan_recipe=tiny, cache_models=True)
    assert again["scores"]["w32"]["kid"] == a["kid"]      # from the cache: the same samples


def test_add_step_costs_keeps_both_timings_of_a_shared_variant():
    from idl_utils.gen_ablation import add_step_costs

    old = {"reference": "today", "clock": "cpu", "ms_per_step": {"today": 400.0, "cond": 240.0},
           "ratio": {"today": 1.0, "cond": 0.6}}
    new = {"reference": "today", "clock": "cpu", "ratio": {"today": 1.0, "cond": 0.586, "cond-ema": 0.595},
           "ms_per_step": {"today": 420.0, "cond": 246.0, "cond-ema": 250.0}}
    merged = add_step_costs(old, new)
    assert merged["ratio"] == {"today": 1.0, "cond": 0.6, "cond-ema": 0.595}      # cond keeps its cost
    assert [run["ratio"]["cond"] for run in merged["runs"]] == [0.6, 0.586]
    with pytest.raises(ValueError, match="another clock"):
        add_step_costs(old, {**new, "clock": "wall"})


def test_faces_vs_all_says_which_dataset_sits_closer_to_its_floor(tmp_path):
    def run(floor, base, n_train, name="base"):
        s = {"real vs real": {"kid": floor, "kid_std": 0.001, "fid": 1.0, "precision": 1, "recall": 1},
             name: {"kid": base, "kid_std": 0.001, "fid": 9.0, "precision": 0.5, "recall": 0.4}}
        return {"config": {"seconds": 1, "n_train": n_train, "n_score": 2, "seed": 0, "features": "f",
                           "variants": [name]}, "rows": [{"variant": name}], "scores": s}

    write_ablation(run(0.01, 0.03, 900), tmp_path / "gan")            # 0.02 above its floor
    write_ablation(run(0.05, 0.06, 40), tmp_path / "faces" / "gan")   # 0.01 above its floor
    out = faces_vs_all(tmp_path)
    assert [(r["data"], r["training images"]) for r in out.rows] == [("all emoji", 900), ("faces", 40)]
    assert len(out.verdicts) == 1 and "holds in this run" in out.verdicts[0]
    assert out.grids == [("base", tmp_path / "gan" / "grids" / "base.png",
                          tmp_path / "faces" / "gan" / "grids" / "base.png")]
    assert out.missing == ["no VAE variant run on both datasets: run `make ablation` (or `make "
                           "ablation-gan-equal`) and `make ablation-faces`"]
    # a faces run of a variant from the equal-time table is compared with that table's run
    write_ablation(run(0.01, 0.02, 900, "cond"), tmp_path / "gan-equal")
    write_ablation(run(0.05, 0.09, 40, "cond"), tmp_path / "faces" / "gan")
    out = faces_vs_all(tmp_path)
    assert [r["variant"] for r in out.rows] == ["cond", "cond"] and "does not hold" in out.verdicts[0]
    assert out.grids[0][1] == tmp_path / "gan-equal" / "grids" / "cond.png"


def test_narrower_width_variants_shrink_both_networks():
    from idl_utils.gen_ablation import GAN_RECIPE
    from idl_utils.generative import GAN

    recipe = {k: v for k, v in GAN_RECIPE.items() if k not in ("batch_size", "learning_rate")}
    sizes = {}
    for name in ("today", "w32", "w24"):
        gan = GAN(image_size=16, seed=0, **{**recipe, **VARIANTS[name].model}).build_all()
        sizes[name] = (gan.generator.count_params(), gan.discriminator.count_params())
    for net in (0, 1):  # generator, then discriminator: each narrower variant is smaller in both
        assert sizes["today"][net] > sizes["w32"][net] > sizes["w24"][net]
