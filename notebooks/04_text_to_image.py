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
# # 04 · Text-to-image arithmetic: writing the answer by hand
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/idl-kit/idl-kit/blob/main/notebooks/04_text_to_image.ipynb)
#
# Now the other way round: the network reads the query `81+24` as text and must **draw** the
# answer `105` as three 28x28 handwritten glyphs. There is no single right image, so how do we
# score it? We let the **judge** from notebook 03 — an independent glyph classifier — read the
# generated glyphs, and count how often it reads the right answer.

# %% [markdown]
# ## Setup

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

from idl_utils.digit_drawer import DrawerRecipe, diversity_report, trained_drawer
from idl_utils.glyphs import glyph_banks, render_answers
from idl_utils.image_seq_models import (
    LOSSES,
    AnswerImages,
    GeneratorRecipe,
    generate_answer_images,
    judged_row,
    trained_generator,
    trained_warm_generator,
)
from idl_utils.judge import judge_accuracy, trained_judge
from idl_utils.mnist import load_mnist
from idl_utils.narrate import compare, format_value, learned, proportion_tie, ratio, verdict
from idl_utils.notebook import show_model, start_notebook
from idl_utils.plots import plot_answer_examples, plot_learning_curves
from idl_utils.queries import make_queries, split_queries
from idl_utils.results import record_results, save_fig, save_table
from idl_utils.seq_models import TrainConfig

NOTEBOOK = "04_text_to_image"
SEED = 42
P = start_notebook(NOTEBOOK, seed=SEED)

# %% [markdown]
# ## Parameters

# %% tags=["parameters"]
DIGITS = 2                        # answers of 3 glyphs ('198', '-99', '7  ')
TRAIN_FRACTION = 0.5
VAL_FRACTION = 0.1
SUBSAMPLE = P.choose(smoke=1500, default=10_000, full=None)
# as in notebook 03, so the judge is shared (cached)
MNIST_TRAIN = P.choose(smoke=6_000, default=10_000, full=None)
MNIST_TEST = P.choose(smoke=2_000, default=None, full=None)
JUDGE_EPOCHS = P.choose(smoke=1, default=5, full=12)
UNITS = P.choose(smoke=32, default=128, full=128)
EPOCHS = P.choose(smoke=2, default=15, full=40)
BATCH = 64
LEARNING_RATE = 3e-3
LR_SCHEDULE = "cosine"            # as in notebook 03: the rate decays along a cosine
CHAR_LOSS_WEIGHT = 1.0            # auxiliary character cross-entropy (0 = pixels only)
VISIBLE_GREY_GAP = 0.005          # grey shares closer than this count as the same look
DEEP_LAYERS = 2                   # the depth study: 1 vs 2 encoder LSTM layers (better loss)
# the digit drawer: the column model, then a conditional VAE on MNIST training digits
DRAWER_EPOCHS = P.choose(smoke=1, default=3, full=2)
DRAWER_DIGITS = P.choose(smoke=1_000, default=None, full=None)  # None: every training digit
DRAWER_LATENT = 16                # the VAE's noise: the handwriting of one digit
DRAWER_TEMPERATURE = 0.5          # the prior's spread when drawing (set on validation queries)
COLUMN_EPOCHS = P.choose(smoke=3, default=None, full=None)  # None: column_recipe's schedule
DRAWS = 4                         # the same answer drawn this many times in the figure
# the 3-digit variant: ~2,000,000 queries, a 5/95 split, streamed; test queries scored
THREE_DIGIT_SUBSAMPLE = P.choose(smoke=5_000, default=200_000, full=None)
THREE_DIGIT_EPOCHS = P.choose(smoke=1, default=2, full=3)  # the course generator's, from 2-digit
THREE_DIGIT_TEST = P.choose(smoke=300, default=2_000, full=10_000)

# %% [markdown]
# ## Data: query text in, answer images out
# Targets are the answer's glyphs drawn from MNIST **training** digits (each training query
# gets its own fixed handwriting). Test queries are never trained on; their "true" images are
# drawn from MNIST test digits only for the pictures.

# %%
mnist = load_mnist(max_train=MNIST_TRAIN, max_test=MNIST_TEST)
banks = glyph_banks(mnist, "honest")
queries = make_queries(DIGITS).sample(SUBSAMPLE, SEED)
split = split_queries(queries, TRAIN_FRACTION, SEED, val_fraction=VAL_FRACTION)
print(f"split {split.name}: train {len(split.train):,}, validation {len(split.val):,}, "
      f"test {len(split.test):,}")

# %% [markdown]
# ## The judge (shared with notebook 03)
# Trained on training glyphs only, tested on MNIST test digits; loaded from the cache if
# notebook 03 trained it already.

# %%
judge, judge_info = trained_judge(banks["train"], seed=SEED, epochs=JUDGE_EPOCHS)
judge_scores = judge_accuracy(judge, banks["test"], seed=SEED)
print(f"judge on held-out digits: {judge_scores['digits']:.2%}")
rep = AnswerImages(banks["train"], judge, seed=SEED)

# %% [markdown]
# ## The generator
# An LSTM encoder reads the one-hot query; `RepeatVector` hands its summary to every answer
# position; an LSTM decoder produces one vector per position, and a **deconvolutional head**
# shared across positions (`TimeDistributed`) turns each vector into a 28x28 glyph:
# dense 7x7x32 → transposed convolution to 14x14 → transposed convolution to 28x28 with a
# sigmoid, so pixels lie in [0, 1] like MNIST's.
#
# **A training aid.** Learning *which* digit to draw from pixel errors alone can be slow: the
# arithmetic has to be discovered through an image loss that averages over handwritings. So the
# decoder states also feed a small softmax over the answer's characters, trained with
# cross-entropy next to the pixel loss (weight `CHAR_LOSS_WEIGHT`). It shares the decoder, so it
# teaches the decoder the arithmetic; the images are still what we score, read by the
# independent judge. Its predictions are never used.
#
# **Two losses.** Mean squared error punishes every grey pixel symmetrically; binary
# cross-entropy treats each pixel as a probability of ink and punishes confident mistakes
# hard. Each training query has one random handwriting as target, so for a given answer
# digit the best a deterministic model can do is an *average* of many handwritings — the
# losses differ in what kind of average they prefer. Model selection uses the judge's
# whole-answer exact match on validation queries. As in notebook 03, the learning
# rate decays along a cosine (`LR_SCHEDULE`), so the last epochs refine instead of shaking.

# %%
recipe = GeneratorRecipe(
    digits=DIGITS, units=UNITS, layers=1, char_loss_weight=CHAR_LOSS_WEIGHT,
    train=TrainConfig(epochs=EPOCHS, batch_size=BATCH, learning_rate=LEARNING_RATE,
                      lr_schedule=LR_SCHEDULE))


def generator(loss, layers):
    """The generator trained with this pixel loss and encoder depth (or loaded from the cache)."""
    return trained_generator(recipe.with_(loss=loss, layers=layers), split, rep,
                             mnist_source=mnist.source, judge_epochs=JUDGE_EPOCHS, seed=SEED)


generators = {(loss, 1): generator(loss, 1) for loss in LOSSES}
show_model(generators[(LOSSES[0], 1)][0])

# %% [markdown]
# ## Scoring generated answers with the judge
# For every held-out query: generate the answer glyphs and let the judge read them.
# *Per digit*: answer positions holding a digit that the judge reads right. *Whole answer*:
# every position right (digits, the minus sign and the blank padding).
# *Grey pixels*: the share of pixels between 0.2 and 0.8 — a blur measure (MNIST: low).

# %%
true_test_images = render_answers(split.test, banks["test"], seed=SEED)
answers = split.test.answers
rows = [judged_row("real MNIST test digits (reference)", true_test_images, judge, answers)]
generated = {}
for (loss, layers), (model, info) in generators.items():
    generated[(loss, layers)] = generate_answer_images(model, split.test)
    rows.append(judged_row("text-to-image", generated[(loss, layers)], judge, answers,
                           loss=loss, layers=layers, seconds=info["seconds"], record=info))
rows

# %%
show = np.random.default_rng(SEED).choice(len(split.test), 6, replace=False)
columns = {"true answer (MNIST test digits)": true_test_images[show]}
columns |= {f"generated, {loss}": generated[(loss, 1)][show] for loss in LOSSES}
fig = plot_answer_examples(columns, [split.test.queries[i].strip() for i in show])
save_fig(fig, "t2i_examples")

# %% [markdown]
# **What the losses do to the look.** Each training query has one random handwriting as its
# target, so for a given answer digit the loss is lowest for a *blend* of many handwritings.
# Under MSE that blend is the pixel-wise mean: soft, grey strokes. Binary cross-entropy treats
# each pixel as a probability of ink; its optimum is the same mean, but it punishes ink on the
# background and missing ink on a confident stroke much harder, so it might give cleaner
# backgrounds and a bolder core. What to look for: do the two losses differ by more than the
# sampling noise (the cell below says)? How does their grey-pixel share compare with real
# digits'? If both are well above it, the blur would come from the random targets, not from the
# loss: varied handwriting would need a generative model with a noise input (VAE/GAN, notebook
# 01's topic).

# %%
real, by_loss = rows[0], {row["loss"]: row for row in rows[1:] if row["encoder_layers"] == 1}
print(learned({f"generator ({loss})": row["whole_answer"] for loss, row in by_loss.items()},
              profile=P.name, what="of answers the judge reads right"))
mse, bce = by_loss["mse"], by_loss["binary_crossentropy"]
for measure in ("whole_answer", "per_digit"):
    print(compare("MSE", mse[measure], "BCE", bce[measure],
                  what=f"judge reads ({measure.replace('_', ' ')})",
                  tie=proportion_tie(mse[measure], bce[measure], len(split.test))))
# a grey share is measured on millions of pixels, so any gap is "significant"; under half a
# point it is not one anybody could see in the pictures, so it counts as a tie
print(compare("MSE", mse["grey_pixels"], "BCE", bce["grey_pixels"], what="grey pixels",
              higher_is_better=False, tie=VISIBLE_GREY_GAP),
      f"(real digits: {format_value(real['grey_pixels'])})")
print(ratio("MSE", mse["train_seconds"], "BCE", bce["train_seconds"], what="training time"))

# %% [markdown]
# ## Depth
# A second encoder LSTM layer, trained with the loss whose one-layer generator scored higher on
# the *validation* queries.

# %%
# chosen on the validation queries, never on the test queries
best_loss = max(LOSSES, key=lambda loss: generators[(loss, 1)][1]["best_val_exact"])
generators[(best_loss, DEEP_LAYERS)] = deep_model, deep_info = generator(best_loss, DEEP_LAYERS)
generated[(best_loss, DEEP_LAYERS)] = generate_answer_images(deep_model, split.test)
rows.append(judged_row("text-to-image", generated[(best_loss, DEEP_LAYERS)], judge, answers,
                       loss=best_loss, layers=DEEP_LAYERS, seconds=deep_info["seconds"],
                       record=deep_info))
rows

# %% [markdown]
# The encoder has to hand the decoder a summary from which every answer digit follows,
# carries and borrows included. A second encoder layer can compute part of the arithmetic
# (e.g. the carry) before the decoder sees the summary. What to look for: does the judge read
# the deeper generator's answers better, by more than the sampling noise, and how close does it
# come to reading real handwriting?

# %%
shallow, deep = by_loss[best_loss], rows[-1]
for measure in ("whole_answer", "per_digit"):
    what = f"judge reads ({measure.replace('_', ' ')})"
    print(compare(f"{DEEP_LAYERS} layers", deep[measure], "1 layer", shallow[measure], what=what,
                  tie=proportion_tie(deep[measure], shallow[measure], len(split.test))))
    print(compare(f"{DEEP_LAYERS} layers", deep[measure], "real digits", real[measure], what=what,
                  tie=proportion_tie(deep[measure], real[measure], len(split.test))))

# %%
histories = {f"{loss}, {layers} layer{'s' * (layers > 1)}": info["history"]
             for (loss, layers), (_, info) in generators.items()}
fig = plot_learning_curves(histories, loss="draw_glyphs_loss", loss_label="pixel loss",
                           relative_loss=True, score="val_exact",
                           score_label="judge reads whole answer")
save_fig(fig, "t2i_learning_curves")

# %% [markdown]
# ## A digit drawer: the column model plus a class-conditional generator
# The course's generator has to learn two things in one deterministic network: *which* digits
# the answer has (the arithmetic) and *how* to write them (the handwriting). With one random
# handwriting per training query, the second can only be learned as an average. The drawer
# splits the two jobs:
#
# 1. **the column model** of notebook 02 computes the answer's characters from the query text
#    (`idl_utils.column_model`, trained on the same training queries);
# 2. **a class-conditional VAE** (`idl_utils.digit_drawer.ConditionalVAE`, built with the kit's
#    `build_conv_net` / `build_deconv_net`, digits padded to 32x32 and cropped back) is trained
#    on MNIST training digits with their labels. Its decoder is told the digit, so its noise
#    input is free to hold the handwriting: each answer digit is drawn from its own noise.
#    The minus sign and the blank come from the kit's glyph drawing, as for real answers.
#
# **Post-processing, stated openly.** A VAE's decoder outputs the *mean* of its pixel
# distribution, soft at the edges of strokes. The drawer passes every digit through one fixed
# contrast curve (`sharpen`, a logistic curve through 0 and 1 that never moves a stroke). Its
# steepness is chosen once after training, so that the grey share of drawn digits matches that
# of the MNIST *training* digits; no test digit is used. The cell prints the steepness chosen.
#
# **Temperature.** Each digit's noise is drawn from a narrower normal distribution than the
# prior the VAE was trained with (`DRAWER_TEMPERATURE` below one, the "truncation trick" of
# Brock et al., 2019): noise near the middle of the prior tends to give typical, legible
# digits, at the price of variety. It was chosen on the validation queries (the development
# runs that chose it printed test scores too, so read the test numbers as a little
# optimistic); the diversity measure below shows what it costs.
#
# What to look for: does the judge read the drawer's digits about as well as real test
# handwriting? Is its grey share close to real digits'? And do ten drawings of the same digit
# differ from each other about as much as ten real handwritings of it do?

# %%
drawer_recipe = DrawerRecipe(latent_dim=DRAWER_LATENT, epochs=DRAWER_EPOCHS,
                             n_train=DRAWER_DIGITS, temperature=DRAWER_TEMPERATURE,
                             column_epochs=COLUMN_EPOCHS)
drawer, drawer_info = trained_drawer(split, banks["train"], drawer_recipe,
                                     mnist_source=mnist.source, seed=SEED)
drawn = drawer.draw(split.test, seed=SEED)
rows.append(judged_row("digit drawer", drawn, judge, answers, seconds=drawer_info["seconds"]))
save_table(rows, "04_text_to_image",
           title=f"Text-to-image, split {split.name}: the judge reads generated answers "
                 f"({mnist.source})")
print(f"digit drawer: column model {drawer_info['column_seconds']:.0f} s, generator "
      f"{drawer_info['generator_seconds']:.0f} s; contrast curve steepness "
      f"{drawer_info['sharpness']:g} (chosen on training digits)")
rows[-1]

# %%
drawer_row = rows[-1]
course_rows = {f"generator ({r['loss']}, {r['encoder_layers']} layer"
               f"{'s' * (r['encoder_layers'] > 1)})": r["whole_answer"] for r in rows[1:-1]}
print(learned({**course_rows, "digit drawer": drawer_row["whole_answer"]}, profile=P.name,
              what="of answers the judge reads right"))
for measure in ("per_digit", "whole_answer"):
    print(compare("digit drawer", drawer_row[measure], "real digits", real[measure],
                  what=f"judge reads ({measure.replace('_', ' ')})",
                  tie=proportion_tie(drawer_row[measure], real[measure], len(split.test))))
print(compare("digit drawer", drawer_row["grey_pixels"], "real digits", real["grey_pixels"],
              what="grey pixels", higher_is_better=False, tie=VISIBLE_GREY_GAP))
diversity = diversity_report(drawer, banks["test"], seed=SEED)
print(verdict("Ten drawings of a digit differ at least half as much as ten real ones",
              diversity["ratio"] >= 0.5,
              f"mean pixel distance within a digit: drawer {diversity['drawer']:.2f} vs real "
              f"MNIST test digits {diversity['real']:.2f}, ratio {diversity['ratio']:.2f}"))

# %% [markdown]
# **The same answer, drawn again.** The course's generator is a function of the query: asked
# twice, it draws the same glyphs. The drawer draws each digit from fresh noise (another
# `seed`). Look for whether the drawings of one answer differ from each other the way two
# people's handwriting does, while staying readable.

# %%
columns = {"true answer (MNIST test digits)": true_test_images[show],
           f"generator, {best_loss}": generated[(best_loss, 1)][show]}
columns |= {f"drawer, drawing {i + 1}": drawer.draw(split.test.subset(show), seed=SEED + i)
            for i in range(DRAWS)}
fig = plot_answer_examples(columns, [split.test.queries[i].strip() for i in show],
                           panel_width=2.1)
save_fig(fig, "t2i_drawer_draws")

# %% [markdown]
# ## 3-digit queries (the 2021 variant)
# There are about 2,000,000 three-digit queries; their answer images as arrays would fill
# gigabytes. As in notebook 03, the course generator trains on a 5/95 split with **streamed**
# batches: each batch's answer images are rendered when it is needed, so memory stays bounded.
# And as notebook 03's 3-digit reader, it does not start from scratch: no weight of the
# generator depends on the number of digits (the encoder reads characters one at a time, the
# decoder, the drawing head and the character softmax work one answer position at a time), so
# it **starts from a 2-digit generator**, the one the validation queries select
# (`trained_warm_generator`), meant to need only the longer layout in its `THREE_DIGIT_EPOCHS`.
#
# The drawer needs no 3-digit training at all: the column model's cell visits every column
# alike, so the one trained on 2-digit queries is widened to four columns
# (`widen_column_model`), and the digit generator is the same. Both are scored on the same
# held-out test queries (`THREE_DIGIT_TEST` of them). What to look for: how well does the
# judge read each model's 3-digit answers, against real 3-digit handwriting?

# %%
queries3 = make_queries(3).sample(THREE_DIGIT_SUBSAMPLE, SEED)
split3 = split_queries(queries3, 0.05, SEED, val_fraction=0.02)
test3 = split3.test.sample(THREE_DIGIT_TEST, SEED)
print(f"3 digits, split {split3.name}: train {len(split3.train):,}, "
      f"validation {len(split3.val):,}, test {len(split3.test):,} (scored on {len(test3):,})")
# the start: the 2-digit generator with the best validation exact match, never the test's
start_loss, start_layers = max(generators, key=lambda k: generators[k][1]["best_val_exact"])
start = recipe.with_(loss=start_loss, layers=start_layers)
generator3, generator3_info = trained_warm_generator(
    start.with_(digits=3, train=TrainConfig(epochs=THREE_DIGIT_EPOCHS, batch_size=128,
                                            learning_rate=LEARNING_RATE, lr_schedule=LR_SCHEDULE,
                                            streaming=True)),
    split3, rep, start=start, start_split=split, mnist_source=mnist.source,
    judge_epochs=JUDGE_EPOCHS, seed=SEED)
print(f"peak memory of the process while it trained: {generator3_info['peak_memory_gib']:.2f} GiB")

# %%
real3 = render_answers(test3, banks["test"], seed=SEED)
rows3 = [judged_row("real MNIST test digits (reference)", real3, judge, test3.answers),
         judged_row("course generator, 3-digit (warm-started from the 2-digit one)",
                    generate_answer_images(generator3, test3), judge, test3.answers,
                    loss=start_loss, layers=start_layers, seconds=generator3_info["seconds"],
                    record=generator3_info),
         judged_row("digit drawer (2-digit column model, widened)",
                    drawer.draw(test3, seed=SEED), judge, test3.answers)]
print(learned({"3-digit course generator": rows3[1]["whole_answer"]}, profile=P.name,
              what="of answers the judge reads right"))
for row, name in ((rows3[1], "course generator"), (rows3[2], "digit drawer")):
    for measure in ("per_digit", "whole_answer"):
        print(compare(name, row[measure], "real digits", rows3[0][measure],
                      what=f"judge reads 3-digit answers ({measure.replace('_', ' ')})",
                      tie=proportion_tie(row[measure], rows3[0][measure], len(test3))))
rows3

# %%
results_file = record_results(NOTEBOOK, {"judge_digits": judge_scores["digits"],
                                         "text_to_image": rows, "best_loss": best_loss,
                                         "digit_drawer": {**drawer_info, "diversity": diversity},
                                         "three_digit": rows3, "three_digit_split": split3.name,
                                         "three_digit_peak_memory_gib":
                                             generator3_info["peak_memory_gib"],
                                         "mnist_source": mnist.source}, seed=SEED)
