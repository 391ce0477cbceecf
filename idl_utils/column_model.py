"""A column model: a network shaped like written addition and subtraction.

People add ``81+24`` by writing the numbers under each other and working from the ones
column up: add the two digits and the carry into one number, write its last digit, carry the
rest. For ``41-89`` they first see which number is larger (reading from the most significant
digit), subtract the smaller from it and write a minus sign. This model has exactly that
shape, and learns every step:

1. **aligned ordinal digits** (:class:`ColumnDigits`): column ``i`` holds digit ``i`` of both
   operands, ones first, each as its value (``7`` -> 7/9), so neighbouring digits share what
   they learn; one extra zero column leaves room for the last carry.
2. **sign pass**: reading from the most significant column down, a learned comparison of
   the two digits (``tanh`` of the difference of one learned score given to each digit, so
   equal digits never decide and swapping them flips the verdict) feeds a one-number state
   through a gate that closes once a column has decided, so the first column whose digits
   differ decides; a sigmoid of the state says "``a < b``" and is trained by the answer's
   sign alone. If so, the operands swap, so the columns always compute larger minus smaller.
3. **one shared column cell**, applied to every column: a linear layer folds the two digits
   (the second one signed by the operator) and the incoming carry into **one number** ``s``
   -- the bottleneck that forces it to compute a column sum instead of memorising digit
   pairs -- then a learned table over whole-number values of ``s`` gives the answer digit
   (a softmax over 0-9) and the outgoing carry or borrow (``tanh``: about +1, 0 or -1). The
   table's rows are the half-unit intervals of ``s`` (soft steps at every half unit, turned
   into "how much of ``s`` lies in this interval"), so each row learns from the sums that fall
   in it and no other. Two facts about writing numbers shape the table: the digit depends only
   on where the sum falls within a ten (sums ten apart share a row: ``-10``, ``0`` and ``10``
   all end in 0), and a larger sum never carries less (the carry table starts as a ramp and a
   penalty on every fall from one row to the next keeps it rising).
4. The answer: one digit per column, then ``'-'`` if the operator is ``-`` and ``a < b``.

Nothing in it depends on the number of digits, so a model trained on 2-digit queries answers
100-digit ones with the same weights (:func:`widen_column_model`,
:mod:`idl_utils.long_arithmetic`). What that needs, measured: every column of a long number
is one of 400 combinations (operator, two digits, carry in), and the cell gets them right
only if it is right on every column *sum* they add up to. 2-digit training never shows the
sum ``0 - 9 - 1 = -10`` (a borrow into a 0 above a 9 cannot happen when the larger operand is
on top and has only two digits), and 180 queries often miss ``9 + 9 + 1 = 19`` or ``-9`` too:
a table row per sum holds its initial weights there, and 1 in 5 random 100-digit queries went
wrong. The two shapes of the table fill those rows from the rows trained, and
``hard_inference`` rounds the carry and each column's comparison between columns when
answering (not in training), so a carry of 0.98 cannot leak along a chain of borrows, nor a
nearly closed sign gate reopen after many columns.

Training (:func:`column_recipe`) starts several candidates from different initial weights,
trains each briefly, keeps the best on the validation queries and trains it to the end: a
few starts settle in a poor solution and stay there (e.g. a carry of about -0.5 where +1 is
meant, which the table then reads only in part).

Inputs ``(n, d+1, 23)`` from :class:`ColumnDigits`; outputs ``(n, d+2, 13)`` probabilities in
the layout of :class:`~idl_utils.seq_models.AlignedReversed` (digits of ``|a op b|`` ones
first, then the sign), so :func:`~idl_utils.seq_models.train_seq_model` trains it with the
kit's loss and its answers decode to the same strings the other models are scored on.

The switches of :func:`build_column_model` (``codes``, ``shared``, ``sign_pass``,
``readout``, ``digit_table``, ``carry_table``, ``hard_inference``) and
``ColumnDigits(aligned=False)`` take one ingredient out or change it; see
:func:`idl_utils.ablation.column_ablation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from .long_queries import LongAnswers, LongQueries
from .queries import VOCAB, QuerySet
from .seq_models import AlignedReversed, Recipe, TrainConfig

_EYE10 = np.eye(10, dtype=np.float32)
_MINUS, _PAD = VOCAB.index("-"), VOCAB.index(" ")
#: Features per column: value of a's digit, value of b's digit, operator (+1 / -1),
#: one-hot of a's digit (10), one-hot of b's digit (10).
N_FEATURES = 23
CODES = ("ordinal", "onehot")
READOUTS = ("bins", "steps", "mlp")
DIGIT_TABLES = ("per_sum", "mod10")
CARRY_TABLES = ("per_sum", "monotone")
#: the digit and carry tables each read-out has unless told otherwise: ``mod10`` and
#: ``monotone`` shape the table of the ``"bins"`` read-out (rows for the sum's intervals); the
#: others have no such rows
TABLES_BY_READOUT = {"bins": ("mod10", "monotone"), "steps": ("per_sum", "per_sum"),
                     "mlp": ("per_sum", "per_sum")}
#: ``carry_table="monotone"``: the weight of the penalty on each fall of the carry table
MONOTONE_STRENGTH = 0.01
#: Where the sum read-out steps: every half unit over more than the sums a column can take
#: (``0-9-1 = -10`` ... ``9+9+1 = 19``), both ways round, so whatever scale and sign the cell
#: settles on can be read.
SUM_STEPS = np.arange(-29.75, 30.0, 0.5, dtype=np.float32)
#: ``digit_table="mod10"``: the read-out's half-unit intervals (121: below the first step,
#: between two steps, above the last) grouped by where they fall within a ten -- interval
#: ``j`` is centred on the sum ``(j - 60) / 2``, so the ones 20 apart are 10 apart in the sum
#: (``-10``, ``0``, ``10``) and share one row of the digit table.
_TENS_FOLD = np.eye(20, dtype=np.float32)[np.arange(len(SUM_STEPS) + 1) % 20]
#: ``carry_table="monotone"``: where the carry table starts, a ramp ``(s - 4.5) / 5`` over the
#: centres ``s`` of the sum's intervals: the carry (its tanh) starts at 0 for the sum 4.5,
#: -0.76 at -0.5, +0.76 at 9.5 and beyond 0.99 either way from -9 down and 18 up; training
#: turns it into steps where it sees sums, and a sum it never sees keeps the ramp's verdict
CARRY_RAMP = ((np.arange(len(SUM_STEPS) + 1, dtype=np.float32) - 60) / 2 - 4.5) / 5


def _operand_columns(values: np.ndarray, columns: int, digits: int, aligned: bool) -> np.ndarray:
    """``(n,)`` operands -> ``(n, columns)`` digits. Aligned: ones first, so column ``i``
    always means ``10**i``. Not aligned: the digits as written (most significant first,
    left-justified, blanks as 0), so column ``i`` is the ``i``-th character of the operand."""
    values = np.asarray(values, dtype=np.int64)
    if aligned:
        return (values[:, None] // 10 ** np.arange(columns)) % 10
    text = np.strings.ljust(values.astype(f"<U{digits}"), columns, "0").astype(f"<U{columns}")
    return text.view("<U1").reshape(len(values), columns).astype(np.int64)


def column_features(a: np.ndarray, b: np.ndarray, op: np.ndarray) -> np.ndarray:
    """The column model's inputs from the operands' digits ``a``, ``b`` ``(n, columns)``
    (integers 0-9, one column per step) and the operators ``op`` ``(n,)`` (``'+'``/``'-'``):
    ``(n, columns, 23)`` ``float32``, laid out as :data:`N_FEATURES` says."""
    a, b = np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp)
    sign = np.where(np.asarray(op) == "+", 1.0, -1.0).astype(np.float32)
    sign = np.broadcast_to(sign[:, None], a.shape)
    values = np.stack([a / 9.0, b / 9.0, sign], axis=-1).astype(np.float32)
    return np.concatenate([values, _EYE10[a], _EYE10[b]], axis=-1)


class NonDecreasing(keras.regularizers.Regularizer):
    """A penalty on every fall between neighbouring rows of a table read by a ``Dense(1)``
    (its kernel ``(rows, 1)``, rows in increasing order of the sum): ``strength`` times the
    sum of the falls. A row no training sum reaches feels only this, and settles at or below
    the row above it and at or above the row below (a sum beyond the trained ones borrows or
    carries like the nearest trained one); trained rows of a carry table rise anyway."""

    def __init__(self, strength: float = MONOTONE_STRENGTH):
        self.strength = float(strength)

    def __call__(self, kernel):
        return self.strength * ops.sum(ops.relu(kernel[:-1] - kernel[1:]))

    def get_config(self) -> dict[str, Any]:
        return {"strength": self.strength}


@dataclass(frozen=True)
class ColumnDigits:
    """The column model's representation: one step per column of the written sum.

    Inputs ``(n, d+1, 23)``: per column the values of both digits scaled to [0, 1], the
    operator as +1 or -1, then both digits one-hot (for the one-hot ablation). The last
    column is zeros: room for the final carry. ``aligned=False`` writes the operands as text
    instead (most significant digit first, left-justified), which breaks the columns.
    Targets and decoding are :class:`~idl_utils.seq_models.AlignedReversed`'s:
    ``(n, d+2, 13)``, digits of ``|a op b|`` ones first, then ``'-'`` or ``' '``.
    """

    aligned: bool = True

    @property
    def name(self) -> str:
        return "column_digits" if self.aligned else "column_digits_unaligned"

    def input_shape(self, digits: int) -> tuple[int, int]:
        return (digits + 1, N_FEATURES)

    def output_shape(self, digits: int) -> tuple[int, int]:
        return AlignedReversed().output_shape(digits)

    def encode_inputs(self, qs: QuerySet) -> np.ndarray:
        columns = qs.digits + 1
        a = _operand_columns(qs.a, columns, qs.digits, self.aligned)
        b = _operand_columns(qs.b, columns, qs.digits, self.aligned)
        return column_features(a, b, qs.op)

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        return AlignedReversed().encode_targets(qs)

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        return AlignedReversed().decode(scores, digits)

    def encode_long(self, qs: LongQueries) -> np.ndarray:
        """Inputs for queries of any length (digit arrays): ``(n, d+1, 23)``, the same
        features as :meth:`encode_inputs` gives for 1-3 digits. Aligned only."""
        if not self.aligned:
            raise ValueError("long queries are encoded aligned only: use ColumnDigits()")
        room = np.zeros((len(qs), 1), dtype=np.uint8)  # the column for the last carry
        return column_features(np.concatenate([qs.a, room], axis=1),
                               np.concatenate([qs.b, room], axis=1), qs.op)

    def decode_long(self, scores: np.ndarray) -> LongAnswers:
        """``(n, d+2, 13)`` model outputs -> :class:`~idl_utils.long_queries.LongAnswers`
        (digits ``(n, d+1)`` ones first, sign, validity), for answers of any length."""
        return LongAnswers(*AlignedReversed.decode_digits(scores))


class ColumnArithmetic(keras.layers.Layer):
    """The column model's computation (see the module docstring): ``(n, d+1, 23)`` column
    features -> ``(n, d+2, 13)`` answer probabilities."""

    def __init__(self, columns: int, *, codes: str = "ordinal", shared: bool = True,
                 sign_pass: bool = True, readout: str = "bins", digit_table: str = "mod10",
                 carry_table: str = "monotone", hard_inference: bool = True,
                 sharpness: float = 5.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.columns, self.codes, self.shared, self.sign_pass = columns, codes, shared, sign_pass
        self.readout, self.digit_table, self.carry_table = readout, digit_table, carry_table
        self.hard_inference = hard_inference
        self.sharpness = sharpness
        cells = 1 if shared else columns
        # one column cell (or one per column, for the ablation): (digits, carry) -> sum s ->
        # a learned table on s gives the answer digit and the carry
        # the sum starts as the plain total of its inputs (weights 1) and learns from there: a
        # random start often settled on unequal weights for the two digits, so that different
        # columns gave the same sum and the table could not tell them apart
        self.sums = [keras.layers.Dense(1, kernel_initializer="ones", name=f"column_sum_{i}")
                     for i in range(cells)]
        self.readers = ([keras.layers.Dense(len(SUM_STEPS), activation="relu", name=f"read_sum_{i}")
                         for i in range(cells)] if readout == "mlp" else [])
        self.digit_heads = [keras.layers.Dense(10, name=f"digit_{i}") for i in range(cells)]
        # per_sum: the carry starts at zero everywhere (nothing carried), not saturated either
        # way. monotone: it starts as a ramp (a larger sum carries more) and a penalty on every
        # fall of the table keeps it so. (A penalty alone left the rows of sums never seen
        # near zero, one in two starts got 0-9-1 wrong; weights kept >= 0 on the soft steps, a
        # hard constraint, stuck 19 of 45 starts at a carry saturated for every sum.)
        monotone = carry_table == "monotone"
        self.carry_heads = [keras.layers.Dense(
            1, name=f"carry_{i}", kernel_regularizer=NonDecreasing() if monotone else None,
            kernel_initializer=keras.initializers.Constant(CARRY_RAMP[:, None]) if monotone
            else "zeros") for i in range(cells)]
        if sign_pass:
            # one score per digit, the same for both operands: the comparison is score(a_i) -
            # score(b_i). Two separate weights could also learn "a digit is non-zero" (the
            # same sign for a and b), which some 1/99 runs did: it saturates the tanh below on
            # almost every query and the comparison stops learning. Starts undecided (zeros).
            self.compare = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                                              name="compare")
        self.sign_head = keras.layers.Dense(1, name="sign")

    def get_config(self) -> dict[str, Any]:
        # what keras.models.clone_model needs to build a fresh copy (restarts)
        return {**super().get_config(), "columns": self.columns, "codes": self.codes,
                "shared": self.shared, "sign_pass": self.sign_pass, "readout": self.readout,
                "digit_table": self.digit_table, "carry_table": self.carry_table,
                "hard_inference": self.hard_inference,
                "sharpness": self.sharpness}

    def build(self, input_shape):
        width = 1 if self.codes == "ordinal" else 10
        for i in range(len(self.sums)):
            self.sums[i].build((None, 2 if self.codes == "ordinal" else 2 * width + 1))
            if self.readers:
                self.readers[i].build((None, 1))
            width_read = len(SUM_STEPS) + (self.readout == "bins")
            self.digit_heads[i].build((None, 20 if self.digit_table == "mod10" else width_read))
            self.carry_heads[i].build((None, width_read))
        if self.sign_pass:
            self.compare.build((None, width))
        self.sign_head.build((None, 1))

    def _read(self, k: int, s):
        """Features of the column sum ``s`` ``(n, 1)`` that the digit and carry tables read.

        ``"bins"`` (default): a soft one-hot of the half-unit interval ``s`` falls in (each
        ``(n, 121)`` row sums to 1), so every whole-number sum has table rows of its own.
        ``"steps"``: the soft steps themselves ``(n, 120)``, "is ``s`` above this step"; the
        same functions, but a sum's entry is the total of the weights of every step below it,
        so one update on a few sums moves the carry of all of them -- in training that often
        saturated the carry's ``tanh`` at one value for every sum, where it stayed.
        ``"mlp"``: a learned ReLU layer (the ablation)."""
        if self.readout == "mlp":
            return self.readers[k](s)
        steps = ops.sigmoid(self.sharpness * (s - ops.convert_to_tensor(SUM_STEPS)[None, :]))
        if self.readout == "steps":
            return steps
        # how much of s lies between two neighbouring steps, below the first, above the last
        below = ops.concatenate([ops.ones_like(s), steps], axis=-1)
        return below - ops.concatenate([steps, ops.zeros_like(s)], axis=-1)

    def cell(self, k: int, a, b, op, carry):
        """Column cell ``k`` (0 when shared): the digits ``a``, ``b`` of one column (``(n, 1)``
        digit values, or ``(n, 10)`` one-hot codes), the operator ``op`` ``(n, 1)`` (+1 / -1)
        and the incoming ``carry`` ``(n, 1)`` -> the answer digit's probabilities ``(n, 10)``
        and the outgoing carry ``(n, 1)`` (about +1, 0 or -1)."""
        if self.codes == "ordinal":  # the carry joins the upper digit, as on paper
            s = self.sums[k](ops.concatenate([a + carry, op * b], axis=-1))
        else:
            s = self.sums[k](ops.concatenate([a, op * b, carry], axis=-1))
        h = self._read(k, s)
        # mod10: the digit depends only on where the sum falls within a ten
        h_digit = ops.matmul(h, ops.convert_to_tensor(_TENS_FOLD)) if self.digit_table == "mod10" else h
        return ops.softmax(self.digit_heads[k](h_digit), axis=-1), ops.tanh(self.carry_heads[k](h))

    def call(self, x, training=None):
        if self.codes == "ordinal":
            a, b = 9.0 * x[:, :, 0:1], 9.0 * x[:, :, 1:2]  # back to digit units: 0 ... 9
        else:
            a, b = x[:, :, 3:13], x[:, :, 13:23]
        op = x[:, 0, 2:3]  # +1 for '+', -1 for '-' (the same in every column)
        is_minus = (1.0 - op) / 2.0
        zero = ops.zeros_like(op)
        # hard_inference: what passes from column to column is rounded when not training
        hard = self.hard_inference and not training
        if self.sign_pass:
            # most significant column first: the first column whose digits differ decides
            # (a saturated score shuts the gate for the columns after it)
            score = zero
            for i in reversed(range(self.columns)):
                differ = self.compare(a[:, i]) - self.compare(b[:, i])
                differ = ops.sign(differ) if hard else ops.tanh(self.sharpness * differ)
                score = score + (1.0 - ops.abs(score)) * differ
            a_smaller = ops.sigmoid(self.sharpness * self.sign_head(score))
            # swap to larger minus smaller; the comparison learns from the sign alone
            swap = ops.stop_gradient(ops.round(a_smaller))[:, :, None]
            a, b = a + swap * (b - a), b + swap * (a - b)
        carry, digits = zero, []
        for i in range(self.columns):
            digit, carry = self.cell(0 if self.shared else i, a[:, i], b[:, i], op, carry)
            carry = ops.round(carry) if hard else carry
            digits.append(digit)
        if not self.sign_pass:  # the borrow out of the top column has to say it
            a_smaller = ops.sigmoid(self.sign_head(carry))
        p_minus = is_minus * a_smaller
        n = ops.shape(x)[0]
        digit_probs = ops.concatenate([ops.stack(digits, axis=1),
                                       ops.zeros((n, self.columns, len(VOCAB) - 10))], axis=-1)
        sign = ops.concatenate([ops.zeros((n, _MINUS)), p_minus, 1.0 - p_minus], axis=-1)
        return ops.concatenate([digit_probs, sign[:, None, :]], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.columns + 1, len(VOCAB))


def build_column_model(digits: int = 2, *, codes: str = "ordinal", shared: bool = True,
                       sign_pass: bool = True, readout: str = "bins", digit_table: str | None = None,
                       carry_table: str | None = None, hard_inference: bool = True,
                       name: str = "column_model") -> keras.Model:
    """The column model (module docstring) for ``digits``-digit operands.

    ``codes``: ``"ordinal"`` (digit values) or ``"onehot"``; ``shared``: one cell for every
    column, or one per column; ``sign_pass``: compare from the most significant column and
    subtract the smaller operand, or not (the sign then comes from the final borrow);
    ``readout``: how digit and carry are read off the column sum, ``"bins"`` (a learned
    table with rows for the half-unit intervals of the sum), ``"steps"`` (the same table
    written as weights on soft steps, which trains less reliably) or ``"mlp"`` (a learned ReLU
    layer); see :meth:`ColumnArithmetic._read`.
    ``digit_table`` (with the ``"bins"`` read-out): ``"per_sum"``, a row of the digit table
    for every interval of the sum, or ``"mod10"``, one row shared by the sums that are ten
    apart (``-10``, ``0`` and ``10`` all end in the digit 0).
    ``carry_table`` (with the ``"bins"`` read-out): ``"per_sum"``, a free row of the carry
    table for every interval of the sum, starting at zero, or ``"monotone"``, the same rows
    starting as a ramp (:data:`CARRY_RAMP`) with a penalty on every fall from one to the next
    (:class:`NonDecreasing`): a larger sum never carries less, and a sum training never
    showed (``0-9-1 = -10``) keeps the ramp's borrow.
    ``hard_inference``: outside training, round what passes from column to column -- the
    carry to -1, 0 or +1 and each column's comparison in the sign pass to -1, 0 or +1 -- so
    that nothing drifts over many columns; training is unchanged.
    Input ``(n, d+1, 23)`` (:class:`ColumnDigits`), output ``(n, d+2, 13)``.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if codes not in CODES:
        raise ValueError(f"codes must be one of {CODES}, got {codes!r}")
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    digit_table = digit_table or TABLES_BY_READOUT[readout][0]
    carry_table = carry_table or TABLES_BY_READOUT[readout][1]
    if digit_table not in DIGIT_TABLES:
        raise ValueError(f"digit_table must be one of {DIGIT_TABLES}, got {digit_table!r}")
    if digit_table == "mod10" and readout != "bins":
        raise ValueError("digit_table='mod10' groups the intervals of the 'bins' read-out: use "
                         "readout='bins' with it")
    if carry_table not in CARRY_TABLES:
        raise ValueError(f"carry_table must be one of {CARRY_TABLES}, got {carry_table!r}")
    if carry_table == "monotone" and readout != "bins":
        raise ValueError("carry_table='monotone' orders the rows of the 'bins' read-out: use "
                         "readout='bins' with it")
    inputs = keras.Input(ColumnDigits().input_shape(digits), name="columns")
    outputs = ColumnArithmetic(digits + 1, codes=codes, shared=shared, sign_pass=sign_pass,
                               readout=readout, digit_table=digit_table, carry_table=carry_table,
                               hard_inference=hard_inference, name="column_arithmetic")(inputs)
    return keras.Model(inputs, outputs, name=name)


def named_layer(model: keras.Model, name: str, kind: type, what: str, builder: str) -> Any:
    """The layer ``name`` of ``model`` if it is a ``kind``; otherwise a ``ValueError`` that says
    the model is not ``what`` and that ``builder`` makes one."""
    try:
        layer = model.get_layer(name)
    except ValueError:
        layer = None
    if not isinstance(layer, kind):
        raise ValueError(f"{model.name!r} is not {what} (no {name!r} layer): build it with {builder}")
    return layer


def column_layer(model: keras.Model) -> ColumnArithmetic:
    """The :class:`ColumnArithmetic` layer of a model made by :func:`build_column_model`."""
    return named_layer(model, "column_arithmetic", ColumnArithmetic, "a column model", "build_column_model")


def widen_column_model(model: keras.Model, digits: int, *,
                       hard_inference: bool | None = None) -> keras.Model:
    """The trained column ``model`` for ``digits``-digit operands: a new
    :func:`build_column_model` with the same settings and the very same weights. Nothing in
    the shared cell or the sign pass depends on the number of columns, so every weight keeps
    its shape (checked); the model itself if it already has that width and
    ``hard_inference`` is ``None`` (keep the model's own; ``True``/``False`` changes only how
    it answers, see :func:`build_column_model`). A model with one cell
    per column (``shared=False``) has no weights for the columns it never had, so it cannot
    be widened."""
    layer = column_layer(model)
    if not layer.shared:
        raise ValueError("a column model with one cell per column (shared=False) has weights for "
                         f"{layer.columns} columns only and cannot be widened: train a shared one")
    config = layer.get_config()
    if hard_inference is not None:
        config["hard_inference"] = bool(hard_inference)
    elif layer.columns == digits + 1:
        return model
    wide = build_column_model(digits, **{k: config[k] for k in COLUMN_MODEL_DEFAULTS},
                              name=model.name)
    wide_layer = column_layer(wide)
    for old, new in zip(layer.weights, wide_layer.weights, strict=True):
        if old.shape != new.shape or old.path.split("/")[-2:] != new.path.split("/")[-2:]:
            raise ValueError(f"weight {old.path} {old.shape} does not match {new.path} {new.shape}")
    wide_layer.set_weights(layer.get_weights())
    return wide


#: The full column model's settings (:func:`build_column_model`'s defaults), written out in
#: every recipe so that they are part of its cache key and its recorded configuration.
COLUMN_MODEL_DEFAULTS: dict[str, Any] = {"codes": "ordinal", "shared": True, "sign_pass": True,
                                         "readout": "bins", "digit_table": "mod10",
                                         "carry_table": "monotone", "hard_inference": True}


def column_recipe(digits: int = 2, n_train: int = 10_000, *, aligned: bool = True,
                  restarts: int = 3, max_seconds: float | None = None,
                  **model_kwargs: Any) -> Recipe:
    """The column model and how the kit trains it: Adam at 0.02 with a cosine decay, the
    *final* weights kept, batches of 32 (8 below 500 training queries), and about 1,200
    updates whatever the data size (10 to 150 epochs).

    ``restarts`` candidates from different initial weights are trained for a fifth of the
    epochs each (at the constant rate); the one with the best validation exact match (ties:
    validation loss) is trained on for the other four fifths (see
    :func:`~idl_utils.seq_models.train_seq_model`). ``restarts=1`` trains a single start.
    ``aligned`` and ``model_kwargs`` (see :func:`build_column_model`) change ingredients for
    the ablation."""
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    unknown = set(model_kwargs) - set(COLUMN_MODEL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown column model setting(s) {sorted(unknown)}; accepted: "
                         f"{', '.join(COLUMN_MODEL_DEFAULTS)}")
    batch = 32 if n_train >= 500 else 8
    steps_per_epoch = max(1, -(-n_train // batch))
    epochs = int(min(150, max(10, -(-1200 // steps_per_epoch))))
    settings = {**COLUMN_MODEL_DEFAULTS, **model_kwargs}
    # another read-out brings its own tables unless they are given (TABLES_BY_READOUT)
    for i, table in enumerate(("digit_table", "carry_table")):
        if table not in model_kwargs and settings["readout"] in TABLES_BY_READOUT:
            settings[table] = TABLES_BY_READOUT[settings["readout"]][i]
    return Recipe(
        "column", ColumnDigits(aligned=aligned), settings,
        TrainConfig(epochs=epochs, batch_size=batch, learning_rate=0.02, lr_schedule="cosine",
                    max_seconds=max_seconds, keep="last", restarts=restarts,
                    restart_fraction=0.2),
        digits, builder=build_column_model,
    )
