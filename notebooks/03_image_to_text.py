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
# # 03 · Image-to-text arithmetic: reading handwritten queries
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/idl-kit/idl-kit/blob/main/notebooks/03_image_to_text.ipynb)
#
# The same task as notebook 02 — `81+24` → `105` — but the query arrives as **five 28x28
# images**: handwritten MNIST digits, a drawn `+` or `-`, and blanks for padding. The network
# must read the handwriting *and* do the arithmetic, learning both from the answers alone.
#
# We also train a separate **judge** that classifies single glyphs. It tells us the best any
# reader could do: a query can only be answered if every glyph in it is read correctly.

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

from idl_utils.benchmark import train_many
from idl_utils.column_reader import ColumnQueryImages, widen_column_reader
from idl_utils.glyphs import MnistQueryImages, glyph_banks, render_queries
from idl_utils.judge import judge_accuracy, trained_judge
from idl_utils.mnist import load_mnist, mnist_card
from idl_utils.narrate import compare, learned, proportion_tie, ratio, trend
from idl_utils.notebook import show_model, start_notebook
from idl_utils.plots import plot_glyph_rows, plot_learning_curves
from idl_utils.queries import exact_match, make_queries, split_queries
from idl_utils.reading import (
    ColumnReaderRecipe,
    JudgeReadings,
    ReaderRecipe,
    answer_row,
    column_reader_row,
    judge_ceiling,
    trained_column_reader,
    trained_reader,
    trained_text_twin,
    trained_warm_reader,
)
from idl_utils.results import record_results, save_fig, save_table
from idl_utils.seq_models import CourseText, TrainConfig, how_training_ended, predict_answers

NOTEBOOK = "03_image_to_text"
SEED = 42
P = start_notebook(NOTEBOOK, seed=SEED)

# %% [markdown]
# ## Parameters

# %% tags=["parameters"]
DIGITS = 2                        # 2: five-image queries (2025); 3: seven-image queries (2021)
TRAIN_FRACTION = 0.5              # the course's 50/50 split of the 20,000 queries
VAL_FRACTION = 0.1                # of the training part, for model selection
SPLIT_MODE = "honest"             # test queries: MNIST *test* digits ("course_mixed": all)
SUBSAMPLE = P.choose(smoke=1500, default=None, full=None)
# MNIST digits to draw from (None: all 60,000 training and 10,000 test digits)
MNIST_TRAIN, MNIST_TEST = P.choose(smoke=(6_000, 2_000), default=(10_000, None), full=(None, None))
JUDGE_EPOCHS = P.choose(smoke=1, default=5, full=12)
PRETRAIN_EPOCHS = P.choose(smoke=1, default=1, full=1)  # passes over every training glyph
UNITS = P.choose(smoke=32, default=256, full=128)  # default: wider, to leave the plateau sooner
EPOCHS = P.choose(smoke=2, default=12, full=40)
BATCH, LEARNING_RATE = 64, 3e-3
LR_SCHEDULE = "cosine"            # the rate decays along a cosine ("constant": it stays)
REDRAW = True                     # training queries get other MNIST images every epoch
AUGMENT = True                    # random shifts and tilts of each glyph while training
GLYPH_FEATURES = 128              # features per glyph from the CNN
# encoder LSTM layers compared (the 3-digit reader starts from the deepest one)
DEPTHS = P.choose(smoke=(2,), default=(1,), full=(1, 2))
SPLITS = P.choose(smoke=(0.1,), default=(), full=(0.25, 0.1))  # more splits, image vs text
# the column reader: its classifier's passes over labelled glyphs, end-to-end epochs (0: none),
COLUMN_PRETRAIN_EPOCHS, COLUMN_FINETUNE_EPOCHS = P.choose(smoke=(1, 0), default=(4, 0),
                                                          full=(10, 6))  # and the cell's changes:
COLUMN_CELL = P.choose(smoke={"restarts": 1, "column_epochs": 2}, default={"restarts": 1}, full={})
COLUMN_CNN = "bn"                 # its classifier: batch-normalised ("course": the reader's CNN)
COLUMN_SPLITS = P.choose(smoke=(0.05,), default=(), full=(0.1, 0.05, 0.01))
# the 3-digit variant: 2,000,000 queries, streamed; a 5/95 split, starting from the 2-digit reader
THREE_DIGIT_SUBSAMPLE = P.choose(smoke=5_000, default=200_000, full=None)
THREE_DIGIT_EPOCHS = P.choose(smoke=1, default=2, full=6)  # a fixed cosine schedule, redrawn images
THREE_DIGIT_TRAIN_FRACTION, THREE_DIGIT_LAYERS = 0.05, max(DEPTHS)  # as the reader it starts from
THREE_DIGIT_TEST = P.choose(smoke=500, default=2_000, full=10_000)

# %% [markdown]
# ## Queries as images
# Each character becomes a glyph: a random MNIST image of that digit, a drawn `+`/`-` (random
# position, stroke length, thickness and tilt), or a blank. Which image a character gets is a
# hash of the seed and the query itself, so the same query always looks the same — the
# validation and test images are fixed — and any batch can be drawn on demand.
#
# **Honest split**: training (and validation) queries are drawn from MNIST's *training*
# digits, test queries from its *test* digits, so test accuracy measures reading handwriting
# the network never saw. The course notebook draws both from all digits
# (`SPLIT_MODE = "course_mixed"`); we compare the two at the end.

# %%
mnist = load_mnist(max_train=MNIST_TRAIN, max_test=MNIST_TEST)
banks = glyph_banks(mnist, SPLIT_MODE)
queries = make_queries(DIGITS).sample(SUBSAMPLE, SEED)
split = split_queries(queries, TRAIN_FRACTION, SEED, val_fraction=VAL_FRACTION)
test_rep = MnistQueryImages(banks["test"], seed=SEED)     # test images: unseen handwriting
save_table(mnist_card(mnist), "03_dataset_card", title="Dataset card: MNIST")
print(mnist, "| banks:", {k: f"{b.name} ({len(b):,})" for k, b in banks.items()})
print(f"split {split.name}: train {len(split.train):,}, validation {len(split.val):,}, "
      f"test {len(split.test):,}")

# %%
examples = split.test.sample(8, SEED)
images = render_queries(examples, banks["test"], seed=SEED)
print("query images:", images.shape, "(queries, glyphs, 28, 28)")
fig = plot_glyph_rows(images, [repr(q.strip()) for q in examples.queries])
save_fig(fig, "i2t_query_images")

# %% [markdown]
# ## The judge
# A separate CNN classifies single glyphs into 13 classes (10 digits, `+`, `-`, blank). It
# trains on MNIST training digits plus drawn operators and blanks, with random shifts and
# rotations, and is tested on MNIST **test** digits. It shares no weights with the readers
# below (its own architecture and seed), so it is an independent referee. It is deliberately a
# plain CNN without batch normalisation: notebook 04 uses it to read *generated* glyphs, and a
# network normalised on crisp handwriting can misread blurred strokes that a person reads.

# %%
judge, judge_info = trained_judge(banks["train"], seed=SEED, epochs=JUDGE_EPOCHS)
judge_scores = judge_accuracy(judge, banks["test"], seed=SEED)
print(f"judge on {judge_scores['n_test_digits']:,} held-out test digits: "
      f"{judge_scores['digits']:.2%}")
judge_scores["per_class"]

# %% [markdown]
# ### The ceiling for image-to-text
# A query is only answerable if every glyph is read. Two estimates: the naive
# `digit accuracy ^ k` with `k` the number of digits in a query, and the share of test
# queries whose images the judge reads completely right (exact, counts every glyph). A test
# query's images depend only on the query (not on the split it falls in), so `JudgeReadings`
# reads each test query once and serves the ceilings of every split below.

# %%
readings = JudgeReadings(judge, test_rep)  # reads each test query once, for every split below
test_images = test_rep.encode_inputs(split.test)
judge_reads = readings.read(split.test)
ceiling = judge_ceiling(judge, test_images, split.test.queries, judge_scores["digits"])
ceiling

# %% [markdown]
# ## The reader: a CNN per glyph, then the course's LSTM encoder-decoder
# `TimeDistributed` applies one small CNN to every glyph, so all positions share what a "7"
# looks like. Its `GLYPH_FEATURES` features per glyph replace the one-hot characters of notebook
# 02; the rest is the course's encoder-decoder with two changes. First, the encoder LSTM is
# bidirectional: its backward pass ends on the most significant digits, which decide the first
# answer character, so it is meant to learn the arithmetic in fewer epochs than the course's
# one-way LSTM, which matters when every epoch has to run a CNN over tens of thousands of
# glyphs. Second, each glyph's features are layer-normalised before the LSTMs see them (centred
# and on one scale, as one-hot characters are): the raw ReLU features of a pretrained CNN are
# large and skewed, which can delay the arithmetic by many epochs.
#
# **Pretraining (and what is shared).** Learning to read from answers alone is slow: the
# only signal is whether `105` came out, several layers away from the pixels. So we first
# teach the glyph CNN the 13 glyph classes with the per-glyph labels of *training* glyphs (a
# temporary softmax head, a few seconds), then train the whole reader end to end on queries.
# The alternatives -- freezing the pretrained CNN and passing on only its 13 class scores, or
# fine-tuning through those softmax scores -- hand the LSTMs less to work with than the feature
# vectors. The judge uses the same kind of training glyphs but is a different network (other
# architecture, other seed, trained separately): nothing passes between the two.
#
# **Reading, or remembering the handwriting?** 9,000 training queries show 45,000 glyphs per
# epoch, and over many epochs the same digit images come back with the same answers, the more
# often the smaller the MNIST source (`MNIST_TRAIN`; the setup cell prints the source this run
# used). A reader that always sees the same images with the same answers can learn *those images*
# instead of digits. The sign to look for: validation exact match (training writers) well above
# test exact match (unseen writers). Two cheap remedies, both on by default: `REDRAW` gives every
# training query new MNIST images and operator strokes every epoch
# (`MnistQueryImages(redraw=True)`, rendered on the fly by `QueryBatches`), and `AUGMENT` shifts
# and tilts every glyph a little while training (Keras' `RandomTranslation` and `RandomRotation`
# layers, inactive at prediction). The cell after the results prints the gap in *this* run.
#
# **Learning rate.** At a constant rate the validation exact match can keep jumping up and down
# by several points from one epoch to the next, even late in training: each step still moves
# the weights as far as it did at the start. `LR_SCHEDULE = "cosine"` lets the rate decay
# smoothly to a small fraction of its start over the `EPOCHS`, so the last epochs refine instead
# of shaking.
#
# **The default profile** trains one reader (one encoder layer) for 12 epochs instead of 40, so
# the question there is whether it leaves the plateau in time at all. It uses 256 LSTM units
# instead of the course's 128, on the idea that a wider LSTM finds the arithmetic in fewer
# epochs. The full profile keeps
# the course's 128 units and compares one and two layers. The line under the results table says
# whether this run's models learned.

# %%
# streaming=True: batches are rendered on the fly, which is what lets every epoch redraw them
recipe = ReaderRecipe(
    digits=DIGITS, units=UNITS, features=GLYPH_FEATURES, augment=AUGMENT, redraw=REDRAW,
    pretrain_epochs=PRETRAIN_EPOCHS,
    train=TrainConfig(epochs=EPOCHS, batch_size=BATCH, learning_rate=LEARNING_RATE,
                      lr_schedule=LR_SCHEDULE, streaming=REDRAW))


def reader(split, layers):
    """The reader with this many encoder layers trained on ``split`` (or from the cache)."""
    return trained_reader(recipe.with_(layers=layers), split, banks["train"], mode=SPLIT_MODE,
                          mnist_source=mnist.source, seed=SEED)


readers, reader_infos = {}, {}
for layers in DEPTHS:
    readers[layers], reader_infos[layers] = reader(split, layers)
show_model(readers[DEPTHS[0]])

# %%
fig = plot_learning_curves({f"{n} encoder layer{'s' * (n > 1)}": info["history"]
                            for n, info in reader_infos.items()})
save_fig(fig, "i2t_learning_curves")

# %% [markdown]
# ## Text-to-text on the same split
# The reader's encoder-decoder fed one-hot text instead of glyph features, trained the same
# way on the very same queries: the difference is what reading handwriting costs.
# (Notebook 02 trains the course's own baseline on this identical split: same seed, 50/50,
# the same validation share.)

# %%
text_model, text_info = trained_text_twin(recipe, split, seed=SEED)
text_pred = predict_answers(text_model, CourseText(), split.test)

# %% [markdown]
# ## Results on held-out queries with unseen handwriting

# %%
answers = split.test.answers
rows = [answer_row("text-to-text (same encoder-decoder)", text_pred, answers,
                   input="one-hot text", seconds=text_info["seconds"], record=text_info)]
reader_preds = {n: predict_answers(model, test_rep, split.test) for n, model in readers.items()}
rows += [answer_row(f"image-to-text, {n} encoder LSTM layer{'s' * (n > 1)}", reader_preds[n],
                    answers, input="MNIST images", seconds=reader_infos[n]["seconds"],
                    record=reader_infos[n])
         for n in readers]
print(learned({row["model"]: row["exact_match"] for row in rows}, profile=P.name))
k = 2 * DIGITS
rows += [{"model": "ceiling: judge reads whole query", "input": "MNIST images",
          "exact_match": ceiling["judge_reads_whole_query"], "per_char": "", "train_seconds": ""},
         {"model": f"ceiling: judge digit accuracy^{k}", "input": "MNIST images",
          "exact_match": ceiling[f"digit_accuracy^{k}"], "per_char": "", "train_seconds": ""}]
save_table(rows, "03_image_vs_text", title=f"Image-to-text vs text-to-text, split {split.name}, "
           f"{SPLIT_MODE} digits ({mnist.source})")
rows

# %% [markdown]
# **Depth.** The CNN does the reading either way; the encoder LSTMs have to turn five glyph
# feature vectors into one summary of *two numbers and an operator*. With one layer, that
# layer must both settle which digits it sees (from features that are noisier than one-hot
# text) and combine them; a second layer can leave the first to clean up the reading and do
# the combining itself. What to look for below: does the second layer lift test exact match by
# more than the sampling noise, and at what cost in training time? How close does the best
# reader come to the judge's ceiling? It could even pass it: the ceiling is an estimate from
# *one* classifier reading each glyph on its own, and the reader's CNN, trained end to end on
# redrawn, shifted and tilted glyphs, may read a few glyphs the judge gets wrong. The gap left
# between the readers and the text model is the cost of the handwriting. Validation against
# test shows whether the reader learned its training writers rather than reading.

# %%
n_test = len(split.test)
test_exact = {f"{n} layer(s)": exact_match(reader_preds[n], answers) for n in readers}
print(trend(test_exact, what="test exact match by encoder layers",
            tie=proportion_tie(min(test_exact.values()), max(test_exact.values()), n_test)))
print(trend({f"{n} layer(s)": info["seconds"] for n, info in reader_infos.items()},
            what="training seconds", percent=False, higher_is_better=False))
best_name, best_exact = max(test_exact.items(), key=lambda item: item[1])
ceiling_exact = ceiling["judge_reads_whole_query"]
print(compare(f"reader ({best_name})", best_exact, "ceiling", ceiling_exact,
              what="test exact match", tie=proportion_tie(best_exact, ceiling_exact, n_test)))
print(compare("text model", rows[0]["exact_match"], f"reader ({best_name})", best_exact,
              what="test exact match"))
for n, info in reader_infos.items():
    print(compare("validation (training writers)", info["best_val_exact"], "test (unseen writers)",
                  test_exact[f"{n} layer(s)"], what=f"{n} layer(s), exact match"))

# %% [markdown]
# ### Where does the reader fail?
# When the reader is wrong, is it because the handwriting is ambiguous? Compare with the judge.

# %%
# the depth chosen on validation, never on the test queries
best_layers = max(readers, key=lambda n: reader_infos[n]["best_val_exact"])
pred = reader_preds[best_layers]
wrong = np.flatnonzero(np.strings.strip(pred) != np.strings.strip(answers))
judge_missed = judge_reads[wrong] != split.test.queries[wrong]
print(f"{len(wrong)} wrong answers; on {judge_missed.mean():.0%} of them "
      "the judge misreads the query too")
if len(wrong):
    shown = wrong[:8]
    fig = plot_glyph_rows(test_images[shown], [
        f"{q.strip()} = {a.strip()}, read {p.strip()!r}"
        for q, a, p in zip(split.test.queries[shown], answers[shown], pred[shown], strict=True)])
    save_fig(fig, "i2t_errors")

# %% [markdown]
# ### Honest vs the course's sampling
# The course draws test images from the same digits as training. Rendering the test queries
# from the *training* digits shows whether that raises the score, and by how much.

# %%
seen_rep = MnistQueryImages(banks["train"], seed=SEED)  # the training digits' handwriting
seen_handwriting = predict_answers(readers[best_layers], seen_rep, split.test)
mode_rows = [
    {"test images from": "MNIST test digits (honest)", "exact_match": exact_match(pred, answers)},
    {"test images from": "MNIST training digits (as in course_mixed)",
     "exact_match": exact_match(seen_handwriting, answers)},
]
save_table(mode_rows, "03_honest_vs_course", title="Image-to-text: unseen vs seen handwriting")
seen, unseen = mode_rows[1]["exact_match"], mode_rows[0]["exact_match"]
print(compare("seen handwriting", seen, "unseen handwriting", unseen, what="test exact match",
              tie=proportion_tie(seen, unseen, len(split.test))))

# %% [markdown]
# ## The column reader: notebook 02's column model, reading glyphs
# Notebook 02's column model learns exact arithmetic from a few hundred queries because it has
# the structure of written arithmetic: one small cell visits the columns from the ones up,
# passing a carry. The **column reader** gives that model handwriting to read
# (`idl_utils.column_reader`):
#
# 1. a **glyph classifier** (a CNN with a softmax over the 13 glyph classes) reads every image of
#    the query on its own. With `COLUMN_CNN = "bn"` it is a wider, batch-normalised CNN than the
#    course reader's (`idl_utils.judge.build_glyph_cnn`, its design chosen on held-out
#    *training* digits); it is another network than the judge, with its own seed and training
#    run, so the judge still examines it independently;
# 2. a **parser without weights** turns those probabilities into the column model's inputs. A
#    query is written left-aligned (`'5+37 '`), so which image holds the ones digit of `b`
#    depends on how many digits each operand has: every layout of the query gets a probability
#    from the glyph probabilities, and each column's digits are read where that layout puts them;
# 3. **the column model's cell** (the very layer notebook 02 trains) computes the answer.
#
# It trains in three stages: the classifier on labelled training glyphs, as the course reader's
# CNN is pretrained; then the column cell from the answers, on the classifier's reading of the
# training queries; then the whole reader end to end at a low learning rate on redrawn images,
# kept only if its validation exact match beats the reader's before that stage. The course's
# encoder-decoder above stays the assignment's model; the column reader is the kit's.
#
# What to look for: how close each reader comes to the judge's ceiling, at what training time,
# and whether the column reader's remaining mistakes are glyphs that the judge misreads too
# (then the handwriting, not the arithmetic, is what is left to learn).

# %%
column_recipe = ColumnReaderRecipe(
    digits=DIGITS, features=GLYPH_FEATURES, augment=AUGMENT, redraw=REDRAW,
    cnn=COLUMN_CNN, pretrain_epochs=COLUMN_PRETRAIN_EPOCHS, **COLUMN_CELL,
    finetune=TrainConfig(epochs=COLUMN_FINETUNE_EPOCHS, batch_size=BATCH, learning_rate=3e-4,
                         lr_schedule=LR_SCHEDULE, streaming=REDRAW))


def column_reader(split):
    """The column reader trained on ``split`` (or from the cache)."""
    return trained_column_reader(column_recipe, split, banks["train"], mode=SPLIT_MODE,
                                 mnist_source=mnist.source, seed=SEED)


col_reader, col_info = column_reader(split)
col_row = column_reader_row(col_reader, split, banks["test"], seed=SEED, record=col_info,
                            model="column reader")
col_exact = col_row["exact_match"]
print(learned({"column reader": col_exact}, profile=P.name))
course_exact = test_exact[f"{best_layers} layer(s)"]  # the depth chosen on validation
print(compare("column reader", col_exact, f"course reader ({best_layers} layers)", course_exact,
              what="test exact match", tie=proportion_tie(col_exact, course_exact, n_test)))
print(compare("column reader", col_exact, "ceiling", ceiling_exact, what="test exact match",
              tie=proportion_tie(col_exact, ceiling_exact, n_test)))
print(ratio("column reader", col_info["seconds"], f"course reader ({best_layers} layers)",
            reader_infos[best_layers]["seconds"], what="training time"))

# %%
col_rep = ColumnQueryImages(banks["test"], seed=SEED)  # the same test images as test_rep
col_pred = predict_answers(col_reader, col_rep, split.test)
col_wrong = np.flatnonzero(np.strings.strip(col_pred) != np.strings.strip(answers))
col_judge_missed = judge_reads[col_wrong] != split.test.queries[col_wrong]
if len(col_wrong):
    print(f"column reader: {len(col_wrong)} wrong answers; on {col_judge_missed.mean():.0%} of "
          "them the judge misreads the query too")

# %% [markdown]
# ## Fewer training queries: what does reading cost?
# So far both models learned from half of the 20,000 queries. Do they drift apart when there
# are fewer? We train the reader with the higher validation score and the text twin again, the
# same way, on smaller training parts (`SPLITS`), and test both on the same held-out queries,
# images drawn from unseen handwriting; the column reader (`column_reader`) is trained on each
# split too. The `ceiling` column is the judge's for each test set;
# `text_stopped` and `reader_stopped` say whether a model's validation exact match was still
# rising when its fixed schedule ended (then its row is not what it could reach).

# %%
split_rows = [{"split": split.name, "train_queries": len(split.train),
               "text_to_text": rows[0]["exact_match"], "image_to_text": exact_match(pred, answers),
               "column_reader": col_exact, "ceiling": ceiling["judge_reads_whole_query"],
               "text_stopped": how_training_ended(text_info),
               "reader_stopped": how_training_ended(reader_infos[best_layers])}]
for fraction in SPLITS:
    smaller = split_queries(queries, fraction, SEED, val_fraction=VAL_FRACTION)
    twin, twin_info = trained_text_twin(recipe, smaller, seed=SEED)
    smaller_reader, smaller_info = reader(smaller, best_layers)
    test_part, truth = smaller.test, smaller.test.answers
    split_rows.append({
        "split": smaller.name, "train_queries": len(smaller.train),
        "text_to_text": exact_match(predict_answers(twin, CourseText(), test_part), truth),
        "image_to_text": exact_match(predict_answers(smaller_reader, test_rep, test_part), truth),
        "column_reader": column_reader_row(column_reader(smaller)[0], smaller, banks["test"],
                                           seed=SEED)["exact_match"],
        "ceiling": readings.ceiling(test_part),
        "text_stopped": how_training_ended(twin_info),
        "reader_stopped": how_training_ended(smaller_info)})
if not SPLITS:
    print(f"SPLITS is empty in the {P.name} profile: only split {split.name} here "
          "(IDL_PROFILE=full adds smaller ones)")
save_table(split_rows, "03_splits", title=f"Exact match across splits, {best_layers}-layer reader "
           f"vs text twin ({mnist.source})")
split_rows

# %% [markdown]
# ### How few queries does the column reader need?
# Notebook 02's column model learns from text with a few hundred queries. The column reader
# has more to learn than the arithmetic (the handwriting), but its classifier learns that from
# labelled glyphs, not from the queries: is the number of queries it needs then about the text
# model's? Below, on smaller training parts (`COLUMN_SPLITS`), the column model on one-hot text
# (notebook 02's recipe, `train_many`) and the column reader on images, tested on the same
# held-out queries, with the judge's ceiling.

# %%
text_columns = train_many(queries, ["column"], COLUMN_SPLITS, [SEED], train={"column": {
    "epochs": COLUMN_CELL.get("column_epochs"), "restarts": COLUMN_CELL.get("restarts")}})
column_rows = []
for fraction in COLUMN_SPLITS:
    smaller = split_queries(queries, fraction, SEED, val_fraction=VAL_FRACTION)
    smaller_reader, smaller_info = column_reader(smaller)
    row = column_reader_row(smaller_reader, smaller, banks["test"], seed=SEED, judge=readings,
                            record=smaller_info, model="column reader")
    row["column_model_on_text"] = text_columns["column", fraction, SEED].row["exact_match"]
    row["test_queries"] = len(smaller.test)
    column_rows.append(row)
if column_rows:
    save_table(column_rows, "03_column_splits", title="Column reader (images) vs column model "
               f"(text), fewer training queries ({mnist.source})")
else:
    print(f"COLUMN_SPLITS is empty in the {P.name} profile (IDL_PROFILE=full trains these splits)")
for row in column_rows:
    print(compare(f"{row['split']}: column reader", row["exact_match"], "column model on text",
                  row["column_model_on_text"], what="test exact match",
                  tie=proportion_tie(row["exact_match"], row["column_model_on_text"],
                                     row["test_queries"])))

# %% [markdown]
# ## The 3-digit variant: 2,000,000 seven-image queries, streamed
# As arrays, 2,000,000 queries of seven 28x28 float images would need 44 GB (11 GB even as
# bytes). Instead `QueryBatches` renders every batch on the fly from the seed, so memory stays
# bounded whatever the number of queries. We train on a 5/95 split and test on a sample of
# the held-out queries.
#
# Trained from scratch, such a reader can sit on a plateau (a few percent exact match) for
# several epochs and then take off; *when* it takes off is down to rounding, so a fixed
# schedule could report the middle of the climb on one machine and the top on another. We
# avoid the plateau instead: **the 3-digit reader starts from the trained 2-digit reader**
# (`warm_start`). None of the reader's weights depends on the number of digits: the glyph CNN
# reads one glyph at a time, the LSTMs read sequences of any length, the softmax is per
# character. So it starts out reading handwriting and adding, and only has to learn the
# longer layout (watch the validation exact match per epoch below). (The 2-digit reader saw
# only MNIST *training* digits, as this one does: the test handwriting stays unseen.)
#
# It then trains for a fixed number of epochs (`THREE_DIGIT_EPOCHS`) with the cosine schedule,
# and redraws its training images every epoch (`redraw=True`), which is meant to keep it from
# learning its training handwriting instead of reading; the best validation epoch is kept. The
# cell below compares the validation exact match (training writers) with the test exact match
# (unseen writers).

# %%
queries3 = make_queries(3).sample(THREE_DIGIT_SUBSAMPLE, SEED)
split3 = split_queries(queries3, THREE_DIGIT_TRAIN_FRACTION, SEED, val_fraction=0.02)
test3 = split3.test.sample(THREE_DIGIT_TEST, SEED)
print(f"3 digits, split {split3.name}: train {len(split3.train):,}, "
      f"validation {len(split3.val):,}, test {len(split3.test):,} (scored on {len(test3):,})")
recipe3 = recipe.with_(digits=3, layers=THREE_DIGIT_LAYERS, augment=False, redraw=True,
                       train=TrainConfig(epochs=THREE_DIGIT_EPOCHS, batch_size=128,
                                         learning_rate=LEARNING_RATE, lr_schedule=LR_SCHEDULE,
                                         streaming=True))
reader3, reader3_info = trained_warm_reader(
    recipe3, split3, banks["train"], start=recipe.with_(layers=THREE_DIGIT_LAYERS),
    start_split=split, mode=SPLIT_MODE, mnist_source=mnist.source, seed=SEED)
pred3 = predict_answers(reader3, test_rep, test3)
three_digit = answer_row(
    "3-digit reader, warm-started from the 2-digit reader", pred3, test3.answers,
    split=split3.name, train_queries=len(split3.train), test_queries_scored=len(test3),
    epochs=reader3_info["epochs_run"], best_epoch=reader3_info["best_epoch"],
    seconds=reader3_info["seconds"], record=reader3_info)
peak_gib = reader3_info["peak_memory_gib"]
print(f"peak memory of the process while the 3-digit reader trained: {peak_gib:.2f} GiB")
print(learned({"3-digit reader": three_digit["exact_match"]}, profile=P.name))
three_digit

# %% [markdown]
# **The column reader on 3-digit queries.** None of the column reader's weights depends on the
# number of digits either (the classifier reads one image, the cell one column), so the reader
# trained on 2-digit queries above answers the same 3-digit test queries *without any 3-digit
# training* (`widen_column_reader`). Seven glyphs must now be read right instead of five, so the
# judge's ceiling for these queries is printed beside it.

# %%
col_pred3 = predict_answers(widen_column_reader(col_reader, 3), col_rep, test3)
ceiling3 = readings.ceiling(test3)
column_three = answer_row("column reader, 2-digit weights (no 3-digit training)", col_pred3,
                          test3.answers, split=split3.name, train_queries=0,
                          test_queries_scored=len(test3), ceiling=ceiling3)
for name, value in (("course reader (3-digit, warm-started)", three_digit["exact_match"]),
                    ("ceiling", ceiling3)):
    print(compare("column reader", column_three["exact_match"], name, value,
                  what="3-digit test exact match",
                  tie=proportion_tie(column_three["exact_match"], value, len(test3))))

# %%
print(trend({f"epoch {i}": v for i, v in enumerate(reader3_info["history"]["val_exact"], 1)},
            what="validation exact match (training handwriting)"))
print(compare("validation", reader3_info["best_val_exact"], "test", three_digit["exact_match"],
              what="3-digit exact match, training vs unseen handwriting"))

# %% [markdown]
# The peak memory is the whole process's (TensorFlow and every model of this notebook
# included) while the 3-digit reader trained: the image pipeline never holds more than a batch
# of training images plus the validation and test samples.

# %%
save_table([{"judge on held-out digits": judge_scores["digits"],
             "all 13 classes": judge_scores["all_glyphs"],
             "held-out digits": judge_scores["n_test_digits"],
             "train_seconds": round(judge_info["seconds"], 1), **judge_scores["per_class"]}],
           "03_judge", title="Judge: 13-class glyph classifier, accuracy per class on held-out "
           f"glyphs ({mnist.source})")
save_table([{**three_digit, "peak_memory_gib": round(peak_gib, 2)}, column_three],
           "03_three_digit_streaming", title="3-digit image-to-text, streamed batches")
results_file = record_results(NOTEBOOK, {
    "judge": {**judge_scores, "train_seconds": judge_info["seconds"]},
    "ceiling": ceiling,
    "image_vs_text": rows,
    "honest_vs_course": mode_rows,
    "splits": split_rows,
    "three_digit": {**three_digit, "peak_memory_under_4_gib": bool(peak_gib < 4)},
    "column_reader": {**col_row, "ceiling": ceiling_exact},
    "column_splits": column_rows,
    "column_three_digit": column_three,
    "mnist_source": mnist.source,
}, seed=SEED)
