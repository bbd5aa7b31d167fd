"""PyTorch side of synthdetect: data, augmentation, architectures, training, export.

This package module is deliberately light (no torch import) so that
``synthdetect.train.cli`` can be mounted in the main CLI without loading torch.
Every module that uses torch imports ``synthdetect.train.compat`` first, which makes
``import torchvision`` work when its compiled ops do not match the installed torch.
"""
