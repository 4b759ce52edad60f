"""Unit 01's catalogue of plausible wrong answers and different but correct ones (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "01_backprop", "backprop"


WRONG = [
    # linear_forward
    w("no_bias", "linear_forward", "x @ W.T + b", "x @ W.T", "test_linear_forward", "bias b is missing"),
    w("bias_subtracted", "linear_forward", "x @ W.T + b", "x @ W.T - b", "test_linear_forward", "subtracted"),
    w("no_transpose", "linear_forward", "x @ W.T + b", "x @ W + b", "test_linear_forward", None),
    # linear_backward
    w("grad_x_uses_W_transposed", "linear_backward", "grad_x = grad_out @ W", "grad_x = grad_out @ W.T",
      "test_linear_backward", None),
    w("grad_W_transposed", "linear_backward", "grad_W = grad_out.T @ x", "grad_W = x.T @ grad_out",
      "test_linear_backward", "transposed"),
    w("grad_W_batch_mean", "linear_backward", "grad_W = grad_out.T @ x", "grad_W = grad_out.T @ x / len(x)",
      "test_linear_backward", "averaged over the batch"),
    w("grad_b_batch_mean", "linear_backward", "grad_out.sum(axis=0)", "grad_out.mean(axis=0)",
      "test_linear_backward", "averaged over the batch"),
    # sigmoid
    w("sigmoid_derivative_is_sigma", "sigmoid", "grad_out * q * (1.0 - q)", "grad_out * q",
      "test_sigmoid", "sigma(p) as the derivative"),
    w("sigmoid_no_chain_rule", "sigmoid", "grad_out * q * (1.0 - q)", "q * (1.0 - q)",
      "test_sigmoid", "not multiplied by grad_out"),
    w("sigmoid_applied_twice", "sigmoid", "return grad_out * q * (1.0 - q)",
      "s = 1 / (1 + np.exp(-q))\n    return grad_out * s * (1 - s)", "test_sigmoid", "applied the sigmoid to q again"),
    w("sigmoid_overflows", "sigmoid",
      "e = np.exp(-np.abs(p))\n    return np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
      "return 1.0 / (1.0 + np.exp(-p))", "test_sigmoid", "overflows"),
    w("sigmoid_sign_flipped", "sigmoid",
      "e = np.exp(-np.abs(p))\n    return np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
      "e = np.exp(-np.abs(p))\n    return np.where(p >= 0, e / (1.0 + e), 1.0 / (1.0 + e))",
      "test_sigmoid", "sign in the exponent"),
    # relu
    w("relu_abs", "relu", "np.maximum(p, 0.0)", "np.abs(p)", "test_relu", "not |p|"),
    w("relu_no_chain_rule", "relu", "grad_out * (p > 0)", "(p > 0) * 1.0", "test_relu", "not multiplied by grad_out"),
    w("relu_mask_from_grad", "relu", "grad_out * (p > 0)", "grad_out * (grad_out > 0)", "test_relu", "from the input p"),
    w("relu_times_output", "relu", "grad_out * (p > 0)", "grad_out * np.maximum(p, 0)", "test_relu", "not by relu(p)"),
    w("relu_derivative_one_at_zero", "relu", "grad_out * (p > 0)", "grad_out * (p >= 0)", "test_relu",
      "PyTorch's convention"),
    # tanh
    w("tanh_square_missing", "tanh", "(1.0 - q ** 2)", "(1.0 - q)", "test_tanh", "square is missing"),
    w("tanh_square_misplaced", "tanh", "(1.0 - q ** 2)", "(1.0 - q) ** 2", "test_tanh", "wrong place"),
    w("tanh_applied_twice", "tanh", "(1.0 - q ** 2)", "(1.0 - np.tanh(q) ** 2)", "test_tanh", "do not apply tanh again"),
    w("tanh_no_chain_rule", "tanh", "grad_out * (1.0 - q ** 2)", "1.0 - q ** 2", "test_tanh", "not multiplied by grad_out"),
    # softmax cross-entropy
    w("softmax_no_max_shift", "softmax_cross_entropy", "shifted = z - z.max(axis=1, keepdims=True)", "shifted = z",
      "test_softmax_cross_entropy", "inf/nan"),
    w("log_of_softmax_underflows", "softmax_cross_entropy",
      "log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
      "log_p = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))",
      "test_softmax_cross_entropy", "inf/nan"),
    w("loss_summed_over_batch", "softmax_cross_entropy", "log_p[np.arange(n), y].mean()", "log_p[np.arange(n), y].sum()",
      "test_softmax_cross_entropy", "summed over the batch"),
    w("grad_not_divided_by_n", "softmax_cross_entropy", "return float(loss), grad / n", "return float(loss), grad",
      "test_softmax_cross_entropy", "not divided by N"),
    w("onehot_not_subtracted", "softmax_cross_entropy", "grad[np.arange(n), y] -= 1.0", "pass",
      "test_softmax_cross_entropy", "subtract the one-hot"),
    # numerical gradient
    w("one_sided_difference", "numerical_gradient", "x[i] = old - h\n        f_minus = f(x)",
      "x[i] = old\n        f_minus = f(x)", "test_numerical_gradient", "one-sided",
      ("(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h")),
    w("divides_by_h", "numerical_gradient", "(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h",
      "test_numerical_gradient", "twice too large"),
    w("x_not_restored", "numerical_gradient", "        x[i] = old\n        grad[i]", "        grad[i]",
      "test_numerical_gradient", "x changed"),
    w("all_entries_at_once", "numerical_gradient", "    grad = np.zeros_like(x)\n",
      "    return np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))\n", "test_numerical_gradient",
      "every entry at once"),
    w("only_first_axis", "numerical_gradient", "for i in np.ndindex(x.shape):", "for i in range(len(x)):",
      "test_numerical_gradient", None),
    # two-layer loss
    w("relu_skipped_in_backward", "two_layer_loss", "grad_p1 = relu_backward(grad_q1, p1)", "grad_p1 = grad_q1",
      "test_two_layer_loss", "grads['W1'] is wrong"),
    w("preactivation_into_layer2_grad", "two_layer_loss", 'linear_backward(grad_z, q1, params["W2"])',
      'linear_backward(grad_z, p1, params["W2"])', "test_two_layer_loss", "grads['W2'] is wrong"),
    w("bias_grads_missing", "two_layer_loss", '"b1": grad_b1', '"b1": np.zeros_like(grad_b1)',
      "test_two_layer_loss", "all zeros"),
    # training
    w("gradient_ascent", "train_two_layer", "params[k] -= lr * grads[k]", "params[k] += lr * grads[k]",
      "test_train_two_layer", "did not go down"),
    w("biases_never_updated", "train_two_layer", "for k in params:", 'for k in ("W1", "W2"):',
      "test_train_two_layer", "never changes"),
    w("history_per_batch", "train_two_layer", "            total += loss * len(xb)\n        history.append(total / len(x))",
      "            history.append(loss)", "test_train_two_layer", "one mean loss per epoch"),
    w("epochs_argument_ignored", "train_two_layer", "for _ in range(epochs):", "for _ in range(30):",
      "test_train_two_layer", "never changes"),
]

RIGHT = [
    Right("linear_forward_with_einsum", "linear_forward", '''
def linear_forward(x, W, b):
    return np.einsum("ni,oi->no", x, W) + b[None, :]
'''),
    Right("linear_backward_outer_products", "linear_backward", '''
def linear_backward(grad_out, x, W):
    grad_x = np.einsum("no,oi->ni", grad_out, W)
    grad_W = np.zeros(W.shape)
    for g_n, x_n in zip(grad_out, x):          # one outer product per example
        grad_W += np.outer(g_n, x_n)
    grad_b = np.sum(grad_out, axis=0)
    return grad_x, grad_W, grad_b
'''),
    Right("sigmoid_by_masks", "sigmoid", '''
def sigmoid(p):
    p = np.asarray(p, dtype=float)
    out = np.empty_like(p)
    pos = p >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-p[pos]))
    e = np.exp(p[~pos])                        # p < 0 here, so exp(p) < 1
    out[~pos] = e / (1.0 + e)
    return out


def sigmoid_backward(grad_out, q):
    return grad_out * (q - q * q)
'''),
    Right("sigmoid_by_logaddexp", "sigmoid", '''
def sigmoid(p):
    # sigma(p) = exp(-log(1 + exp(-p))), and np.logaddexp(0, -p) computes log(1 + exp(-p)) without overflow
    return np.exp(-np.logaddexp(0.0, -p))


def sigmoid_backward(grad_out, q):
    dq_dp = q * (1 - q)
    return dq_dp * grad_out
'''),
    Right("relu_with_where", "relu", '''
def relu(p):
    return np.where(p > 0, p, 0.0)


def relu_backward(grad_out, p):
    return np.where(p > 0, grad_out, 0.0)
'''),
    Right("relu_by_copy_and_mask", "relu", '''
def relu(p):
    out = p.copy()
    out[out < 0] = 0
    return out


def relu_backward(grad_out, p):
    grad = grad_out.copy()
    grad[p <= 0] = 0
    return grad
'''),
    Right("tanh_factored", "tanh", '''
def tanh_backward(grad_out, q):
    return grad_out * (1 - q) * (1 + q)
'''),
    Right("softmax_ce_logsumexp_and_eye", "softmax_cross_entropy", '''
def softmax_cross_entropy(z, y):
    n, c = z.shape
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))     # (N, 1) log-sum-exp
    loss = np.mean(lse[:, 0] - z[np.arange(n), y])
    probs = np.exp(z - lse)
    return float(loss), (probs - np.eye(c)[y]) / n
'''),
    Right("softmax_ce_row_by_row", "softmax_cross_entropy", '''
def softmax_cross_entropy(z, y):
    n = len(z)
    loss = 0.0
    grad = np.zeros(z.shape)
    for i in range(n):
        row = z[i] - np.max(z[i])
        log_sum = np.log(np.sum(np.exp(row)))
        loss -= row[y[i]] - log_sum
        grad[i] = np.exp(row - log_sum)
        grad[i, y[i]] -= 1
    return float(loss / n), grad / n
'''),
    Right("numerical_gradient_without_mutating_x", "numerical_gradient", '''
def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.size)
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = h
        step = step.reshape(x.shape)
        grad[k] = (f(x + step) - f(x - step)) / (2 * h)
    return grad.reshape(x.shape)
'''),
    Right("two_layer_loss_written_out", "two_layer_loss", '''
def two_layer_loss(params, x, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h_pre = x @ W1.T + b1
    h = np.maximum(h_pre, 0)
    z = h @ W2.T + b2
    loss, dz = softmax_cross_entropy(z, y)
    grads = {"W2": dz.T @ h, "b2": dz.sum(axis=0)}
    dh_pre = (dz @ W2) * (h_pre > 0)
    grads["W1"] = dh_pre.T @ x
    grads["b1"] = dh_pre.sum(axis=0)
    return loss, grads
'''),
    Right("train_with_own_shuffling", "train_two_layer", '''
def train_two_layer(x, y, hidden=64, lr=0.5, epochs=30, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    n, d = x.shape
    c = int(y.max()) + 1
    params = {"W1": rng.normal(0.0, 1 / np.sqrt(d), (hidden, d)), "b1": np.zeros(hidden),
              "W2": rng.normal(0.0, 1 / np.sqrt(hidden), (c, hidden)), "b2": np.zeros(c)}
    history = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses, sizes = [], []
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss, grads = two_layer_loss(params, x[idx], y[idx])
            for name, g in grads.items():
                params[name] = params[name] - lr * g
            losses.append(loss)
            sizes.append(len(idx))
        history.append(float(np.average(losses, weights=sizes)))
    return params, history


def predict(params, x):
    hidden = np.maximum(x @ params["W1"].T + params["b1"], 0.0)
    return (hidden @ params["W2"].T + params["b2"]).argmax(axis=1)
'''),
]
