"""How well the detectors do, without torch.

* ``metrics``: acc/P/R/F1, best-F1 threshold, AP, ROC-AUC, EER, per generator.
* ``plots``: ROC / PR / histogram / reliability PNGs (matplotlib, optional).
* ``scoring``: labelled images scored as scan scores them (ONNX models, ensembles; a training run
  only through the ``run_scorer`` a caller passes, ``synthdetect.train.scoring.RunScorer``).
* ``report``: ``evaluate_targets`` and its tables (``synthdetect evaluate``); ``threshold``:
  ``calibrate_card`` (``synthdetect calibrate``); ``ensemble_card``: ``build_ensemble``.
* ``perturbations``: ``evaluate --perturb`` and the blur/JPEG steps of training augmentation.

This ``__init__`` imports nothing: import the modules.
"""
