"""PyTorch side of synthdetect: augmentation, architectures, training, export, the scorer of a run.

This package module is deliberately light (no torch import): the commands in
``synthdetect/cli/`` import the training modules inside their bodies, and the
name tables they need for --help (``families``, ``backbones``) import without torch.
Every module that uses torch imports ``synthdetect.train.compat`` first, which makes
``import torchvision`` work when its compiled ops do not match the installed torch.
"""
