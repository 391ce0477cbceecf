"""idl_utils: the shared, tested library behind the idl-kit notebooks.

Modules, by responsibility:

* :mod:`idl_utils.config` -- profiles (``IDL_PROFILE``), seeding, paths
* :mod:`idl_utils.provenance` -- data sources, versions, hardware
* :mod:`idl_utils.results` -- figures, tables and results files (atomic writes)
* :mod:`idl_utils.cache` -- trained-model cache ("load if trained, else train")
* :mod:`idl_utils.mnist` -- MNIST, online or the offline subset
* :mod:`idl_utils.queries` -- arithmetic queries as text
* :mod:`idl_utils.seq_models` -- encoder-decoder LSTMs for the arithmetic task
"""

from .config import get_profile, set_seed

__version__ = "0.1.0"
__all__ = ["get_profile", "set_seed", "__version__"]
