"""Parameter and Module: the two base classes every nnlib layer is built on.

A ``Module`` has ``forward(x)`` and ``backward(grad_out)``. ``backward`` takes
dL/d(output) and returns dL/d(input); on the way it *adds* dL/d(parameter) to
each ``Parameter.grad`` (so gradients of several batches accumulate until
``zero_grad()``, exactly as in torch).

Parameters and sub-modules are registered by assigning them as attributes, so
``named_parameters()`` yields the same dotted names torch uses
(``0.weight``, ``encoder.1.bias``, ...) and a torch ``state_dict()`` converted
to numpy loads directly.

Lecture 02 (backpropagation) introduces the forward/backward pair.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np


def shape_str(shape) -> str:
    """``(8, 5)`` for a shape tuple, as it is written in error messages."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class Parameter:
    """A trainable array and the gradient accumulated into it.

    Attributes:
        data: the value, a float64 array.
        grad: an array of ``data``'s shape; ``backward`` adds to it.
    """

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    def zero_grad(self) -> None:
        self.grad[...] = 0.0

    def __repr__(self) -> str:
        return f"Parameter(shape={shape_str(self.shape)})"


class Module:
    """Base class of every layer, loss-free network and container.

    Subclasses implement ``forward(x)`` and ``backward(grad_out)``; they may
    keep in ``self`` whatever ``forward`` computed that ``backward`` needs
    (the cache), and nothing more.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                "before assigning attributes"
            )
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    # -- computation -----------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- parameters ------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter, keyed by torch's dotted names."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy values into the parameters; accepts numpy arrays or CPU torch tensors.

        Raises:
            KeyError: with ``strict``, when names are missing or unexpected.
            ValueError: when a value's shape differs from the parameter's.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for name, value in state_dict.items():
            if name not in own:
                continue
            value = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value,
                               dtype=np.float64)
            if value.shape != own[name].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{name}' expected shape "
                    f"{shape_str(own[name].shape)}, got {shape_str(value.shape)}"
                )
            own[name].data[...] = value

    # -- modes -----------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for _, mod in self.named_modules():
            object.__setattr__(mod, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # -- printing --------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied in order; ``backward`` visits them in reverse.

    Children are named ``0``, ``1``, ... as in ``torch.nn.Sequential``.

    Shape:
        whatever the first module accepts -> whatever the last returns.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential expects Modules, got {type(m).__name__} at position {i}")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m.forward(x)
        return x

    def backward(self, grad_out):
        for m in reversed(list(self._modules.values())):
            grad_out = m.backward(grad_out)
        return grad_out

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
