"""nnlib: the course's compact reference library.

The numpy reference lives at the top level (one file per concept: module,
layers, conv, regularization, recurrent, losses, optim, gradcheck, data, training, plot). ``import nnlib``
imports numpy only; torch is imported only by the PyTorch subpackage.
"""
from .module import Module, Parameter, Sequential
from .layers import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softplus, Tanh, sigmoid
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, col2im, conv_output_size, im2col
from .regularization import BatchNorm2d, Dropout
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, log_softmax, softmax
from .optim import SGD, Optimizer
from .recurrent import GRU, LSTM, RNN
from .gradcheck import check_module_backward, gradcheck, numerical_gradient, rel_error
from .training import accuracy, fit, predict_classes
from . import data, plot

__all__ = [
    "Module", "Parameter", "Sequential",
    "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "sigmoid",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "im2col", "col2im", "conv_output_size",
    "Dropout", "BatchNorm2d",
    "MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "log_softmax", "softmax",
    "Optimizer", "SGD",
    "RNN", "LSTM", "GRU",
    "numerical_gradient", "rel_error", "check_module_backward", "gradcheck",
    "fit", "accuracy", "predict_classes",
    "data", "plot",
]

# Unit 02 (optimization): the adaptive optimizers and the learning-rate schedules.
from .optim import Adagrad, Adam, CosineAnnealingLR, ExponentialLR, LRScheduler, RMSprop, StepLR

__all__ += ["Adagrad", "RMSprop", "Adam", "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR"]
