"""nnlib: the course's compact reference library.

The numpy reference lives at the top level (one file per concept: module,
layers, losses, optim, gradcheck, data, training, plot). ``import nnlib``
imports numpy only; torch is imported only by the PyTorch subpackage.
"""
from .module import Module, Parameter, Sequential
from .layers import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh, sigmoid
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, log_softmax, softmax
from .optim import SGD, Optimizer
from .gradcheck import check_module_backward, gradcheck, numerical_gradient, rel_error
from .training import accuracy, fit, predict_classes
from . import data, plot

__all__ = [
    "Module", "Parameter", "Sequential",
    "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "sigmoid",
    "MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "log_softmax", "softmax",
    "Optimizer", "SGD",
    "numerical_gradient", "rel_error", "check_module_backward", "gradcheck",
    "fit", "accuracy", "predict_classes",
    "data", "plot",
]
