"""The kit's commands: what ``make`` runs, not what the course teaches.

* :mod:`idl_utils.tools.reproduce` -- ``make reproduce``: every notebook at full scale -> ``reports/``
* :mod:`idl_utils.tools.speed` -- ``make speed``: time this machine, estimate ``make reproduce``
* :mod:`idl_utils.tools.compare` -- ``make compare``: a run's results against the committed ones
* :mod:`idl_utils.tools.export` -- ``make export``: the submission archive in ``dist/``

Each is run as ``python -m idl_utils.tools.<name>``.
"""
