"""How well the detectors do, without torch.

* ``metrics``: acc/P/R/F1, best-F1 threshold, AP, ROC-AUC, EER, per generator.
* ``plots``: ROC / PR / histogram / reliability PNGs (matplotlib, optional).

This ``__init__`` imports nothing: import the modules.
"""
