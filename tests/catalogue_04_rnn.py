"""Unit 04's catalogue of plausible wrong answers and different right ones (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "04_rnn", "rnn"


WRONG = [
    # lstm_cell_forward: one wrong gate at a time, each caught by that gate's own test
    w("input_gate_tanh", "lstm_cell_forward", "i = sigmoid(z[:, :H])", "i = np.tanh(z[:, :H])",
      "test_input_gate", "input gate uses tanh"),
    w("gates_order_f_i", "lstm_cell_forward", "i = sigmoid(z[:, :H])\n    f = sigmoid(z[:, H:2 * H])",
      "i = sigmoid(z[:, H:2 * H])\n    f = sigmoid(z[:, :H])", "test_input_gate", "wrong order"),
    w("forget_gate_tanh", "lstm_cell_forward", "f = sigmoid(z[:, H:2 * H])", "f = np.tanh(z[:, H:2 * H])",
      "test_forget_gate", "forget gate uses tanh"),
    w("keeps_one_minus_f", "lstm_cell_forward", "c = f * c_prev + i * g", "c = (1 - f) * c_prev + i * g",
      "test_forget_gate", "(1 - f) * c_prev"),
    w("candidate_sigmoid", "lstm_cell_forward", "g = np.tanh(z[:, 2 * H:3 * H])", "g = sigmoid(z[:, 2 * H:3 * H])",
      "test_candidate", "candidate g uses a sigmoid"),
    w("output_gate_tanh", "lstm_cell_forward", "o = sigmoid(z[:, 3 * H:])", "o = np.tanh(z[:, 3 * H:])",
      "test_output_gate", "output gate uses tanh"),
    w("no_tanh_on_cell", "lstm_cell_forward", "tanh_c = np.tanh(c)", "tanh_c = c",
      "test_output_gate", "tanh of the cell is missing"),
    w("gates_order_i_f_o_g", "lstm_cell_forward",
      "g = np.tanh(z[:, 2 * H:3 * H])\n    o = sigmoid(z[:, 3 * H:])",
      "g = np.tanh(z[:, 3 * H:])\n    o = sigmoid(z[:, 2 * H:3 * H])", "test_output_gate", "wrong order"),
    w("no_recurrent_term", "lstm_cell_forward", " + h_prev @ W_hh.T", "", "test_lstm_forward", "recurrent term"),
    w("no_b_hh", "lstm_cell_forward", "h_prev @ W_hh.T + b_hh", "h_prev @ W_hh.T",
      "test_lstm_forward", "b_hh is missing"),
    # lstm_cell_backward
    w("no_tanh_derivative", "lstm_cell_backward", "dc_total = dc + dh * o * (1.0 - tanh_c ** 2)",
      "dc_total = dc + dh * o", "test_lstm_backward", "misses tanh'(c)"),
    w("no_gradient_from_h", "lstm_cell_backward", "dc_total = dc + dh * o * (1.0 - tanh_c ** 2)",
      "dc_total = dc", "test_lstm_backward", "gradient from h is missing"),
    w("dc_prev_skips_forget_gate", "lstm_cell_backward", "dc_prev = dc_total * f", "dc_prev = dc_total",
      "test_lstm_backward", "through the forget gate"),
    w("candidate_derivative_sigmoid", "lstm_cell_backward", "dc_total * i * (1.0 - g ** 2)",
      "dc_total * i * g * (1.0 - g)", "test_lstm_backward", "1 - g^2"),
    w("output_gate_grad_without_tanh_c", "lstm_cell_backward", "dh * tanh_c * o * (1.0 - o)", "dh * o * (1.0 - o)",
      "test_lstm_backward", "dL/dz (here equal to dx) is wrong"),
    w("db_batch_mean", "lstm_cell_backward", "db = dz.sum(axis=0)", "db = dz.mean(axis=0)",
      "test_lstm_backward", "averaged over the batch"),
    w("dW_ih_batch_mean", "lstm_cell_backward", "dW_ih = dz.T @ x", "dW_ih = dz.T @ x / len(x)",
      "test_lstm_backward", "averaged over the batch"),
    w("dh_prev_through_W_ih", "lstm_cell_backward", "dh_prev = dz @ W_hh", "dh_prev = dz @ W_ih",
      "test_lstm_backward", "dh_prev should have shape"),
    # gru_cell_forward
    w("gru_z_swapped", "gru_cell_forward", "return (1.0 - z) * n + z * h_prev", "return z * n + (1.0 - z) * h_prev",
      "test_gru_forward", "swapped"),
    w("gru_reset_outside_bias", "gru_cell_forward", "n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])",
      "n = np.tanh(ax[:, 2 * H:] + r * (h_prev @ W_hh[2 * H:].T) + b_hh[2 * H:])",
      "test_gru_forward", "bias included"),
    w("gru_no_reset", "gru_cell_forward", "n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])",
      "n = np.tanh(ax[:, 2 * H:] + ah[:, 2 * H:])", "test_gru_forward", "reset gate r is not applied"),
    w("gru_order_z_r", "gru_cell_forward",
      "r = sigmoid(ax[:, :H] + ah[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
      "z = sigmoid(ax[:, :H] + ah[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
      "test_gru_forward", "wrong order"),
    # grad_norms_by_lag
    w("norms_in_time_order", "grad_norms_by_lag", "axis=1)[::-1]", "axis=1)", "test_grad_norms_by_lag",
      "reverse the order"),
    w("gradient_at_every_step", "grad_norms_by_lag",
      "grad = np.zeros_like(out)\n    grad[-1] = np.random.default_rng(seed).standard_normal(out.shape[1:])",
      "grad = np.broadcast_to(np.random.default_rng(seed).standard_normal(out.shape[1:]), out.shape).copy()",
      "test_grad_norms_by_lag", "only the last output"),
    w("norm_averaged_over_batch", "grad_norms_by_lag", "np.linalg.norm(dx.reshape(len(x), -1), axis=1)",
      "(np.linalg.norm(dx, axis=(1, 2)) / np.sqrt(dx.shape[1]))", "test_grad_norms_by_lag", "2-norm over the whole"),
    w("gradient_at_first_step", "grad_norms_by_lag", "grad[-1] =", "grad[0] =", "test_grad_norms_by_lag",
      "grad_norms_by_lag for RNN is wrong"),
    # lag_experiment
    w("forget_gate_not_opened", "lag_experiment", "lstm.bias_hh_l0.data[H:2 * H] += forget_bias", "pass",
      "test_lag_experiment", "not opened"),
    w("opened_input_gate", "lag_experiment", "lstm.bias_hh_l0.data[H:2 * H]", "lstm.bias_hh_l0.data[0:H]",
      "test_lag_experiment", "input gate (rows 0:H)"),
    w("ratio_inverted", "lag_experiment",
      "ratio_at_50 = (lstm_norms[50] / lstm_norms[0]) / (rnn_norms[50] / rnn_norms[0])",
      "ratio_at_50 = (rnn_norms[50] / rnn_norms[0]) / (lstm_norms[50] / lstm_norms[0])",
      "test_lag_experiment", "inverted"),
    w("ratio_not_relative_to_lag_0", "lag_experiment",
      "ratio_at_50 = (lstm_norms[50] / lstm_norms[0]) / (rnn_norms[50] / rnn_norms[0])",
      "ratio_at_50 = lstm_norms[50] / rnn_norms[50]", "test_lag_experiment", "ratio_at_50 is wrong"),
]


RIGHT = [
    Right("lstm_forward_gate_by_gate", "lstm_cell_forward", '''
def lstm_cell_forward(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    pre = {}
    for k, name in enumerate("ifgo"):
        rows = slice(k * H, (k + 1) * H)
        pre[name] = x @ W_ih[rows].T + h_prev @ W_hh[rows].T + b_ih[rows] + b_hh[rows]
    gates = {name: (np.tanh(a) if name == "g" else 0.5 * (1.0 + np.tanh(0.5 * a))) for name, a in pre.items()}
    c = gates["f"] * c_prev + gates["i"] * gates["g"]
    h = gates["o"] * np.tanh(c)
    # the same cache layout as the reference, so the reference backward can read it
    return h, c, (x, h_prev, c_prev, W_ih, W_hh, gates["i"], gates["f"], gates["g"], gates["o"], np.tanh(c))
'''),
    Right("lstm_backward_per_gate", "lstm_cell_backward", '''
def lstm_cell_backward(dh, dc, cache):
    x, h_prev, c_prev, W_ih, W_hh, i, f, g, o, tanh_c = cache
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    local = [dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f), dc * i * (1.0 - g * g),
             dh * tanh_c * o * (1.0 - o)]
    H = h_prev.shape[1]
    dx = sum(d @ W_ih[k * H:(k + 1) * H] for k, d in enumerate(local))
    dh_prev = sum(d @ W_hh[k * H:(k + 1) * H] for k, d in enumerate(local))
    dW_ih = np.vstack([np.einsum("nh,nd->hd", d, x) for d in local])
    dW_hh = np.vstack([np.einsum("nh,nd->hd", d, h_prev) for d in local])
    db = np.concatenate([d.sum(axis=0) for d in local])
    return dx, dh_prev, dc * f, dW_ih, dW_hh, db
'''),
    Right("gru_interpolation_form", "gru_cell_forward", '''
def gru_cell_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    blocks = [(x @ W_ih[k * H:(k + 1) * H].T + b_ih[k * H:(k + 1) * H],
               h_prev @ W_hh[k * H:(k + 1) * H].T + b_hh[k * H:(k + 1) * H]) for k in range(3)]
    r = sigmoid(blocks[0][0] + blocks[0][1])
    z = sigmoid(blocks[1][0] + blocks[1][1])
    n = np.tanh(blocks[2][0] + r * blocks[2][1])
    return n + z * (h_prev - n)
'''),
    Right("norms_by_loop", "grad_norms_by_lag", '''
def grad_norms_by_lag(layer, x, seed=0):
    T = len(x)
    out = layer.forward(x)
    G = np.random.default_rng(seed).standard_normal(out.shape[1:])
    grad = np.concatenate([np.zeros((T - 1,) + G.shape), G[None]])
    dx = layer.backward(grad)
    return np.array([np.sqrt(np.sum(dx[T - 1 - k] ** 2)) for k in range(T)])
'''),
    Right("forget_bias_in_bias_ih", "lag_experiment", '''
T, N, D, H = 101, 16, 8, 32
x_lag = np.random.default_rng(1).standard_normal((T, N, D))
rnn = nnlib.RNN(D, H, rng=0)
lstm = nnlib.LSTM(D, H, rng=0)
forget_bias = 2.0
lstm.bias_ih_l0.data[H:2 * H] = lstm.bias_ih_l0.data[H:2 * H] + forget_bias   # the two biases are added
rnn_rel = grad_norms_by_lag(rnn, x_lag, seed=0)
lstm_rel = grad_norms_by_lag(lstm, x_lag, seed=0)
rnn_norms, lstm_norms = rnn_rel, lstm_rel
rnn_rel, lstm_rel = rnn_rel / rnn_rel[0], lstm_rel / lstm_rel[0]
ratio_at_50 = float(lstm_rel[50] / rnn_rel[50])
'''),
]
