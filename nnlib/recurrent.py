"""Recurrent layers RNN, LSTM and GRU: a whole sequence forward, backpropagation through time back.

One layer each, with torch.nn's constructor arguments, defaults
(``batch_first=False``: sequences are (T, N, D)), parameter names
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``), shapes
and gate order (LSTM rows i, f, g, o; GRU rows r, z, n), so a torch
``state_dict`` loads directly. Notation, as in lecture 05:

    RNN   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    LSTM  i, f, o = σ(·), g = tanh(·)   of   W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
          c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    GRU   r, z = σ(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
          n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
          h_t = (1 - z) * n + z * h_{t-1}

Unlike torch, ``forward(x, h0=None)`` returns only the output sequence (so a
recurrent layer fits in ``Sequential``); the final states are kept as
``h_n`` (and ``c_n``). ``backward(grad_output, grad_h_n=None)`` returns
dL/dx, adds the parameter gradients, and leaves dL/dh0 in ``grad_h0`` (and
``grad_c0``).

The input projection x_t W_ih^T of every step is one matrix product before
the time loop, and the weight gradients of every step are one product after
the backward loop: only h_{t-1} W_hh^T must be done step by step.
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter, shape_str


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """σ(a) in place. exp may overflow to inf for a << 0; 1/(1+inf) = 0 is then the right value."""
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)
    return a


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: parameters, initialisation, layouts, shape checks.

    Subclasses set ``GATES`` (rows of W_ih per hidden unit) and implement
    ``_forward(x, h0)`` and ``_backward(dy, dh_n)`` on time-major arrays (T, N, ·).
    """

    GATES = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, rng=None):
        super().__init__()
        if num_layers != 1:
            raise ValueError(f"{type(self).__name__}: nnlib's recurrent layers have one layer, got "
                             f"num_layers={num_layers}; stack layers in a Sequential instead")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers = 1
        self.batch_first = bool(batch_first)
        rows = self.GATES * self.hidden_size
        self.weight_ih_l0 = Parameter(np.empty((rows, self.input_size)))
        self.weight_hh_l0 = Parameter(np.empty((rows, self.hidden_size)))
        self.bias_ih_l0 = Parameter(np.empty(rows)) if bias else None
        self.bias_hh_l0 = Parameter(np.empty(rows)) if bias else None
        self.h_n = None
        self._unbatched = False
        self.reset_parameters(rng)

    @property
    def bias(self) -> bool:
        return self.bias_ih_l0 is not None

    def reset_parameters(self, rng=None) -> None:
        """Every parameter from U(-k, k), k = 1/sqrt(hidden_size), as torch."""
        rng = np.random.default_rng(rng)
        k = 1.0 / np.sqrt(self.hidden_size)
        for p in self.parameters():
            p.data[...] = rng.uniform(-k, k, p.shape)

    def _who(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, batch_first={self.batch_first})"

    def _time_major(self, x) -> np.ndarray:
        """Validate x; return it as a contiguous (T, N, D_in) array and remember its layout."""
        x = np.asarray(x, dtype=np.float64)
        layout = "(N, T, D_in)" if self.batch_first else "(T, N, D_in)"
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self._who()} got input of shape {shape_str(x.shape)}; expected "
                             f"{layout.replace('D_in', str(self.input_size))} or (T, {self.input_size})")
        self._unbatched = x.ndim == 2
        if self._unbatched:
            return np.ascontiguousarray(x[:, None, :])                      # (T, 1, D)
        return np.ascontiguousarray(x.transpose(1, 0, 2) if self.batch_first else x)  # (T, N, D)

    def _state(self, h, n: int, name: str) -> np.ndarray:
        """An initial state given as (1, N, H), or (1, H) for unbatched input, as an (N, H) array."""
        H = self.hidden_size
        if h is None:
            return np.zeros((n, H))
        h = np.asarray(h, dtype=np.float64)
        want = (1, H) if self._unbatched else (1, n, H)
        if h.shape != want:
            raise ValueError(f"{type(self).__name__}: {name} should have shape {shape_str(want)} "
                             f"(num_layers, N, hidden_size), got {shape_str(h.shape)}")
        return h.reshape(n, H).copy()

    def _out_layout(self, y: np.ndarray) -> np.ndarray:
        """(T, N, H) time-major result -> the caller's layout."""
        if self._unbatched:
            return y[:, 0, :].copy()
        return np.ascontiguousarray(y.transpose(1, 0, 2)) if self.batch_first else y.copy()

    def _state_out(self, h: np.ndarray) -> np.ndarray:
        return h.reshape((1, self.hidden_size) if self._unbatched else (1,) + h.shape)

    def _grad_in(self, grad_output) -> np.ndarray:
        """Validate dL/d(output) against the output's shape; return it time-major (T, N, H)."""
        if self._x is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        T, N, _ = self._x.shape
        H = self.hidden_size
        want = (T, H) if self._unbatched else (N, T, H) if self.batch_first else (T, N, H)
        g = np.asarray(grad_output, dtype=np.float64)
        if g.shape != want:
            raise ValueError(f"{type(self).__name__}.backward expected grad_output of shape "
                             f"{shape_str(want)} (the shape forward returned), got {shape_str(g.shape)}")
        if self._unbatched:
            return g[:, None, :]
        return g.transpose(1, 0, 2) if self.batch_first else g

    def _grad_state(self, g, name: str) -> np.ndarray:
        N = self._x.shape[1]
        if g is None:
            return np.zeros((N, self.hidden_size))
        g = np.asarray(g, dtype=np.float64)
        want = (1, self.hidden_size) if self._unbatched else (1, N, self.hidden_size)
        if g.shape != want:
            raise ValueError(f"{type(self).__name__}.backward expected {name} of shape {shape_str(want)}, "
                             f"got {shape_str(g.shape)}")
        return g.reshape(N, self.hidden_size).copy()

    def _accumulate(self, d_ih: np.ndarray, d_hh: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """Add every step's weight and bias gradients with one product each; return dL/dx (T, N, D_in).

        d_ih, d_hh: (T, N, G*H) gradients of the input and recurrent pre-activations; h_prev (T, N, H).
        """
        T, N, D = self._x.shape
        rows = self.GATES * self.hidden_size
        d_ih2 = d_ih.reshape(T * N, rows)                                   # (T*N, G*H)
        d_hh2 = d_hh.reshape(T * N, rows)
        self.weight_ih_l0.grad += d_ih2.T @ self._x.reshape(T * N, D)       # (G*H, D_in)
        self.weight_hh_l0.grad += d_hh2.T @ h_prev.reshape(T * N, self.hidden_size)  # (G*H, H)
        if self.bias:
            self.bias_ih_l0.grad += d_ih2.sum(axis=0)
            self.bias_hh_l0.grad += d_hh2.sum(axis=0)
        return (d_ih2 @ self.weight_ih_l0.data).reshape(T, N, D)

    def _input_projection(self, x: np.ndarray) -> np.ndarray:
        """x_t W_ih^T + b_ih for every step at once: (T, N, D_in) -> (T, N, G*H)."""
        T, N, D = x.shape
        a = x.reshape(T * N, D) @ self.weight_ih_l0.data.T                  # (T*N, G*H)
        if self.bias:
            a += self.bias_ih_l0.data
        return a.reshape(T, N, -1)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s


class RNN(_Recurrent):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or ReLU).

    Args:
        input_size, hidden_size, num_layers (must be 1), nonlinearity ('tanh'
        or 'relu'), bias, batch_first: as ``torch.nn.RNN``. rng: seed or Generator.

    Shape:
        x (T, N, D_in), or (N, T, D_in) with batch_first, or (T, D_in) unbatched
        -> output h_1..h_T in the same layout with H = hidden_size.
        h0 and h_n (1, N, H). weight_ih_l0 (H, D_in), weight_hh_l0 (H, H), biases (H,).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)
        self.nonlinearity = nonlinearity
        self._x = None

    def forward(self, x, h0=None):
        x = self._time_major(x)
        T, N, _ = x.shape
        h = np.empty((T + 1, N, self.hidden_size))                          # h[0] = h0, h[t+1] = h_t
        h[0] = self._state(h0, N, "h0")
        a = self._input_projection(x)                                       # (T, N, H)
        if self.bias:
            a += self.bias_hh_l0.data
        w_hh_t = self.weight_hh_l0.data.T
        for t in range(T):
            a[t] += h[t] @ w_hh_t
            if self.nonlinearity == "tanh":
                np.tanh(a[t], out=h[t + 1])
            else:
                np.maximum(a[t], 0.0, out=h[t + 1])
        self._x, self._h = x, h
        self.h_n = self._state_out(h[T].copy())
        return self._out_layout(h[1:])

    def backward(self, grad_output, grad_h_n=None):
        dy = self._grad_in(grad_output)
        h = self._h
        T = len(dy)
        dh = self._grad_state(grad_h_n, "grad_h_n")                         # (N, H)
        da = np.empty_like(h[1:])                                           # (T, N, H)
        w_hh = self.weight_hh_l0.data
        for t in reversed(range(T)):
            dh += dy[t]
            if self.nonlinearity == "tanh":
                np.multiply(dh, 1.0 - h[t + 1] * h[t + 1], out=da[t])
            else:
                np.multiply(dh, h[t + 1] > 0, out=da[t])
            dh = da[t] @ w_hh
        self.grad_h0 = self._state_out(dh)
        return self._out_layout(self._accumulate(da, da, h[:-1]))

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_Recurrent):
    """Long short-term memory, torch's gate order i, f, g, o (rows of W_ih and W_hh).

        [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, then σ on i, f, o and tanh on g
        c_t = f * c_{t-1} + i * g        h_t = o * tanh(c_t)

    Args:
        input_size, hidden_size, num_layers (must be 1), bias, batch_first: as
        ``torch.nn.LSTM``. rng: seed or Generator.

    Shape:
        x (T, N, D_in), or (N, T, D_in) with batch_first, or (T, D_in) unbatched
        -> output h_1..h_T in the same layout with H = hidden_size.
        h0 = (h_0, c_0), each (1, N, H), or None; h_n, c_n (1, N, H).
        weight_ih_l0 (4H, D_in), weight_hh_l0 (4H, H), biases (4H,).
    """

    GATES = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)
        self.c_n = None
        self._x = None

    def forward(self, x, h0=None):
        x = self._time_major(x)
        T, N, _ = x.shape
        H = self.hidden_size
        if h0 is not None and not (isinstance(h0, (tuple, list)) and len(h0) == 2):
            raise ValueError("LSTM: h0 should be a pair (h_0, c_0) of arrays (1, N, hidden_size), or None")
        h = np.empty((T + 1, N, H))
        c = np.empty((T + 1, N, H))
        h[0] = self._state(None if h0 is None else h0[0], N, "h_0")
        c[0] = self._state(None if h0 is None else h0[1], N, "c_0")
        # tanh(a) = 2σ(2a) - 1: doubling the g rows lets one sigmoid pass activate all four gates
        scale = np.ones(4 * H)
        scale[2 * H:3 * H] = 2.0
        w_hh_t = (self.weight_hh_l0.data * scale[:, None]).T                # (H, 4H)
        gates = self._input_projection(x)                                   # (T, N, 4H)
        if self.bias:
            gates += self.bias_hh_l0.data
        gates *= scale
        tanh_c = np.empty((T, N, H))
        tmp = np.empty((N, H))
        for t in range(T):
            a = gates[t]
            a += h[t] @ w_hh_t
            _sigmoid_(a)
            g = a[:, 2 * H:3 * H]
            g *= 2.0
            g -= 1.0
            np.multiply(a[:, H:2 * H], c[t], out=c[t + 1])                  # f * c_{t-1}
            np.multiply(a[:, :H], g, out=tmp)                               # i * g
            c[t + 1] += tmp
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(a[:, 3 * H:], tanh_c[t], out=h[t + 1])              # o * tanh(c_t)
        self._x, self._h, self._c, self._gates, self._tanh_c = x, h, c, gates, tanh_c
        self.h_n = self._state_out(h[T].copy())
        self.c_n = self._state_out(c[T].copy())
        return self._out_layout(h[1:])

    def backward(self, grad_output, grad_h_n=None):
        """``grad_h_n``: None or a pair (dL/dh_n, dL/dc_n), each (1, N, H) or None."""
        dy = self._grad_in(grad_output)
        H = self.hidden_size
        gates, c, tanh_c = self._gates, self._c, self._tanh_c
        T, N, _ = gates.shape
        dhn, dcn = (None, None) if grad_h_n is None else grad_h_n
        dh = self._grad_state(dhn, "grad_h_n[0]")
        dc = self._grad_state(dcn, "grad_h_n[1]")
        d_gates = np.empty_like(gates)                                      # (T, N, 4H) pre-activations
        tmp = np.empty((N, H))
        w_hh = self.weight_hh_l0.data
        for t in reversed(range(T)):
            i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
            di, df, dg, do = (d_gates[t, :, k * H:(k + 1) * H] for k in range(4))
            dh += dy[t]
            # dL/dc_t = dc (from step t+1) + dh * o * (1 - tanh(c_t)^2)
            np.multiply(tanh_c[t], tanh_c[t], out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            np.multiply(dh, tanh_c[t], out=do)                              # dL/do, then through σ'
            do *= o
            do *= 1.0 - o
            np.multiply(dc, g, out=di)
            di *= i
            di *= 1.0 - i
            np.multiply(dc, c[t], out=df)
            df *= f
            df *= 1.0 - f
            np.multiply(dc, i, out=dg)
            dg *= 1.0 - g * g
            dc *= f                                                         # dL/dc_{t-1}
            dh = d_gates[t] @ w_hh                                          # dL/dh_{t-1}
        self.grad_h0 = self._state_out(dh)
        self.grad_c0 = self._state_out(dc)
        return self._out_layout(self._accumulate(d_gates, d_gates, self._h[:-1]))


class GRU(_Recurrent):
    """Gated recurrent unit, torch's gate order r, z, n (rows of W_ih and W_hh).

        r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)       (reset)
        z = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)       (update)
        n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    Args:
        input_size, hidden_size, num_layers (must be 1), bias, batch_first: as
        ``torch.nn.GRU``. rng: seed or Generator.

    Shape:
        x (T, N, D_in), or (N, T, D_in) with batch_first, or (T, D_in) unbatched
        -> output h_1..h_T in the same layout with H = hidden_size.
        h0 and h_n (1, N, H). weight_ih_l0 (3H, D_in), weight_hh_l0 (3H, H), biases (3H,).
    """

    GATES = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, rng)
        self._x = None

    def forward(self, x, h0=None):
        x = self._time_major(x)
        T, N, _ = x.shape
        H = self.hidden_size
        h = np.empty((T + 1, N, H))
        h[0] = self._state(h0, N, "h0")
        xa = self._input_projection(x)                                      # (T, N, 3H): becomes r, z, n
        ha = np.empty_like(xa)                                              # W_hh h_{t-1} + b_hh
        w_hh_t = self.weight_hh_l0.data.T
        for t in range(T):
            np.matmul(h[t], w_hh_t, out=ha[t])
            if self.bias:
                ha[t] += self.bias_hh_l0.data
            rz = xa[t, :, :2 * H]
            rz += ha[t, :, :2 * H]
            _sigmoid_(rz)
            r, z, n = xa[t, :, :H], xa[t, :, H:2 * H], xa[t, :, 2 * H:]
            n += r * ha[t, :, 2 * H:]
            np.tanh(n, out=n)
            np.subtract(h[t], n, out=h[t + 1])                              # h_t = n + z * (h_{t-1} - n)
            h[t + 1] *= z
            h[t + 1] += n
        self._x, self._h, self._gates, self._ha = x, h, xa, ha
        self.h_n = self._state_out(h[T].copy())
        return self._out_layout(h[1:])

    def backward(self, grad_output, grad_h_n=None):
        dy = self._grad_in(grad_output)
        H = self.hidden_size
        gates, ha, h = self._gates, self._ha, self._h
        T = len(gates)
        dh = self._grad_state(grad_h_n, "grad_h_n")
        d_xa = np.empty_like(gates)                                         # dL/d(W_ih x + b_ih)
        d_ha = np.empty_like(gates)                                         # dL/d(W_hh h + b_hh)
        w_hh = self.weight_hh_l0.data
        for t in reversed(range(T)):
            r, z, n = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:]
            dh += dy[t]
            dan = dh * (1.0 - z) * (1.0 - n * n)                            # through n's tanh
            d_xa[t, :, 2 * H:] = dan
            np.multiply(dan, r, out=d_ha[t, :, 2 * H:])
            d_xa[t, :, :H] = dan * ha[t, :, 2 * H:] * r * (1.0 - r)         # reset gate
            d_xa[t, :, H:2 * H] = dh * (h[t] - n) * z * (1.0 - z)           # update gate
            d_ha[t, :, :2 * H] = d_xa[t, :, :2 * H]
            dh = dh * z + d_ha[t] @ w_hh
        self.grad_h0 = self._state_out(dh)
        return self._out_layout(self._accumulate(d_xa, d_ha, h[:-1]))
