"""Linear probes over a backbone's features, fitted without torch (``train probe``).

* ``fit``: exact L2-regularised logistic regression, nested cross-validation.
* ``feature_groups``: the candidate feature groups of a backbone (chosen by nested CV).
* ``sample``: what a labelled sample can support (size rules, learning curve).
* ``train``: features (extraction + cache) -> a probe card.

This ``__init__`` imports nothing: import the modules.
"""
