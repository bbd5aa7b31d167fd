"""The scan: plan, pipeline, the models it runs and how scores become verdicts (no torch).

* ``pipeline``: ``resolve_plan``, ``Scanner`` (the decode pool overlapping inference), result records.
* ``options``: ``ScanOptions``, a scan's settings checked once (``ClusterOptions`` for ``--engine ray``).
* ``runtime``: onnxruntime sessions, networks, backbones; ``heads``: probe heads (numpy).
* ``ensemble``: how member scores combine; ``calibration``: thresholds from error budgets;
  ``conditions``: calibration per measured condition (downscaled, re-encoded copies).
* ``domain`` (the calibration-domain reference a card carries), ``domain_check`` (the batch
  test and what it does to verdicts), ``twosample`` (the classifier two-sample statistic).
* ``cache``: the result cache; ``engines.ray_engine``: ``scan --engine ray``.

This ``__init__`` imports nothing (no cycle, a cheap ``import``): import the modules
(``from synthdetect.scan import pipeline``, ``from synthdetect.scan.pipeline import Scanner``).
"""
