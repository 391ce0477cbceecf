"""The kit's commands: what ``make`` runs, not what the course teaches.

* :mod:`idl_utils.tools.reproduce` -- ``make reproduce``: every notebook at full scale -> ``reports/``
* :mod:`idl_utils.tools.speed` -- ``make speed``: time this machine, estimate ``make reproduce``
* :mod:`idl_utils.tools.compare` -- ``make compare``: a run's results against the committed ones
* :mod:`idl_utils.tools.export` -- ``make export``: the submission archive in ``dist/``
* :mod:`idl_utils.tools.run_record` -- which outputs in ``reports/`` this checkout's
  ``make reproduce`` made (how ``compare`` and ``export`` tell a run from the committed reference)
* :mod:`idl_utils.tools.column_reader_splits` -- the column reader on notebook 03's honest splits,
  beside the judge's ceiling (a measurement for issue 36)
* :mod:`idl_utils.tools.workcopy` -- ``make setup``: the kit's kernel and the git filter that keeps
  notebook outputs out of commits

Each is run as ``python -m idl_utils.tools.<name>``.
"""
