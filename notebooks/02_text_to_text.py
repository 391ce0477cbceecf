# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,colab,accelerator
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Text-to-text arithmetic with encoder-decoder LSTMs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/idl-kit/idl-kit/blob/main/notebooks/02_text_to_text.ipynb)
#
# A network reads a query such as `81+24` **as text** and writes the answer `105`, one
# character at a time. Nobody tells it what `+` means: it has to discover addition,
# subtraction, carries and borrows from examples alone.
#
# This notebook trains the course's baseline encoder-decoder LSTM and measures it on queries it
# never saw. Everything reusable lives in `idl_utils`; this page keeps the ideas.

# %% [markdown]
# ## Setup
# On Colab the first cell installs the kit (leaving Colab's GPU TensorFlow alone). Everywhere,
# `start_notebook` seeds every random generator and prints the profile: `smoke` (seconds, for
# tests), `default` (minutes on a laptop) or `full` (`make reproduce`).

# %%
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("idl-kit"):
    subprocess.run(["git", "clone", "-q", "--depth=1", "https://github.com/idl-kit/idl-kit"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "idl-kit"], check=True)
    sys.path.insert(0, "idl-kit")

# %%
import matplotlib.pyplot as plt
import numpy as np

from idl_utils.cache import load_or_train
from idl_utils.notebook import start_notebook
from idl_utils.queries import (
    encode_text,
    exact_match,
    make_queries,
    per_char_accuracy,
    split_queries,
)
from idl_utils.results import record_results, save_fig, save_table
from idl_utils.seq_models import (
    CourseText,
    TrainConfig,
    build_course_model,
    predict_answers,
    train_seq_model,
)

NOTEBOOK = "02_text_to_text"
SEED = 42
P = start_notebook(NOTEBOOK, seed=SEED)

# %% [markdown]
# ## Parameters
# Every hyper-parameter is here, with its value for the active profile.

# %% tags=["parameters"]
DIGITS = 2                       # 2: the 2025 assignment (20,000 queries); 3: 2021 (2,000,000)
TRAIN_FRACTION = 0.5             # the course's 50/50 split
VAL_FRACTION = 0.1               # of the training part, for model selection (never the test set)
BASELINE_UNITS = P.choose(smoke=32, default=256, full=256)
BASELINE_EPOCHS = P.choose(smoke=2, default=30, full=50)
BASELINE_BATCH = 128
SUBSAMPLE = P.choose(smoke=2000, default=None, full=None)  # smoke: a slice of the queries

# %% [markdown]
# ## The data
# All queries `a+b` and `a-b` with `0 <= a, b < 100`: 20,000 of them. Queries are padded with
# spaces to 5 characters, answers to 3, and every character is one-hot encoded over the
# course's 13-character vocabulary `0123456789+- `.

# %%
queries = make_queries(DIGITS)
if SUBSAMPLE:
    queries = queries.subset(np.random.default_rng(SEED).choice(len(queries), SUBSAMPLE, replace=False))
print(f"{len(queries):,} queries, e.g.", [f"{q!r} -> {a!r}" for q, a in zip(queries.queries[:3], queries.answers[:3], strict=True)])
x_demo = encode_text(queries.queries[:1], queries.query_length)
print("one query as a network sees it:", x_demo.shape, "(queries, characters, vocabulary)")
x_demo[0].astype(int)

# %% [markdown]
# ### A fair split
# The test queries are set aside first and never touched until the end. From the training part
# we hold out a small **validation** set: training keeps the weights of the epoch that does best
# there, so model selection never peeks at the test set.

# %%
split = split_queries(queries, TRAIN_FRACTION, SEED, val_fraction=VAL_FRACTION)
print(f"split {split.name}: train {len(split.train):,}, validation {len(split.val):,}, test {len(split.test):,}")

# %% [markdown]
# ## The course's baseline
# `LSTM(256)` reads the query and compresses it into one vector; `RepeatVector` hands that
# vector to every output step; a second `LSTM(256)` unrolls it into the answer, and a softmax
# picks one of 13 characters per step.

# %%
rep = CourseText()
baseline_cfg = TrainConfig(epochs=BASELINE_EPOCHS, batch_size=BASELINE_BATCH, learning_rate=1e-3)
baseline, baseline_info = load_or_train(
    "t2t_course",
    {"digits": DIGITS, "units": BASELINE_UNITS, "split": split.name, "n": len(queries), "seed": SEED, **baseline_cfg.as_dict()},
    build=lambda: build_course_model(DIGITS, units=BASELINE_UNITS),
    train=lambda m: train_seq_model(m, rep, split.train, split.val, baseline_cfg, seed=SEED),
)
baseline.summary()

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
hist = baseline_info["history"]
axes[0].plot(hist["loss"], label="train"); axes[0].plot(hist["val_loss"], label="validation")
axes[0].set(title="loss", xlabel="epoch"); axes[0].legend()
axes[1].plot(hist["val_exact"]); axes[1].set(title="validation exact match", xlabel="epoch", ylim=(0, 1))
save_fig(fig, "t2t_baseline_learning_curves")

# %% [markdown]
# ## How good is it on queries it never saw?
# *Exact match*: the whole answer must be right. *Per character*: the share of answer
# positions right, which is kinder (a wrong last digit still scores 2/3).

# %%
predicted = predict_answers(baseline, rep, split.test)
baseline_scores = {
    "model": "course baseline",
    "split": split.name,
    "exact_match": exact_match(predicted, split.test.answers),
    "per_char": per_char_accuracy(predicted, split.test.answers),
    "epochs": baseline_info["epochs_run"],
    "train_seconds": round(baseline_info["seconds"], 1),
}
baseline_scores

# %%
right = np.flatnonzero(np.strings.strip(predicted) == np.strings.strip(split.test.answers))
wrong = np.flatnonzero(np.strings.strip(predicted) != np.strings.strip(split.test.answers))
for label, idx in (("right", right[:5]), ("wrong", wrong[:8])):
    print(label + ":", ", ".join(f"{split.test.queries[i].strip()} = {predicted[i].strip()!r} (true {split.test.answers[i].strip()})" for i in idx))

# %%
save_table([baseline_scores], "02_baseline", title="Text-to-text: course baseline")
record_results(NOTEBOOK, {"baseline": baseline_scores}, seed=SEED)
