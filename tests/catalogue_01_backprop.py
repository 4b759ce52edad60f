"""Unit 01's catalogue of plausible wrong answers, each a patch on the reference answer (see catalogue.py)."""
from __future__ import annotations

from catalogue import w

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
