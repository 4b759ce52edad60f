"""Unit 02's catalogue of plausible wrong answers and different but correct ones (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "02_optimization", "optimization"

STEP = "xs[t] - lr * b * (xs[t] - c)"
FIT = "slope, _ = np.polyfit(t, np.log(errors), 1)"
PREDICT = "return int(np.ceil(np.log(delta) / np.log(abs(1 - lr * b))))"
BRANCH = "            high = mid\n        else:\n            low = mid"
FIRST_BUFFER = 'state["buffer"] = grad.copy()'
NESTEROV = 'return theta - lr * (grad + momentum * state["buffer"])'
SQUARES = "v = alpha * v + (1 - alpha) * grad ** 2"

WRONG = [
    # gradient_descent
    w("ascent", "gradient_descent", STEP, "xs[t] + lr * b * (xs[t] - c)", "test_gradient_descent",
      "move away from the minimum"),
    w("curvature_missing", "gradient_descent", STEP, "xs[t] - lr * (xs[t] - c)", "test_gradient_descent",
      "curvature b is missing"),
    w("minimum_at_zero", "gradient_descent", STEP, "xs[t] - lr * b * xs[t]", "test_gradient_descent", "you used b x"),
    w("start_left_out", "gradient_descent", "return xs", "return xs[1:]", "test_gradient_descent", "start included"),
    # convergence_factor
    w("returns_the_slope", "convergence_factor", "return float(np.exp(slope))", "return float(slope)",
      "test_convergence_factor", "the factor is exp(slope)"),
    w("axes_swapped", "convergence_factor", FIT, "slope, _ = np.polyfit(np.log(errors), t, 1)",
      "test_convergence_factor", "swap the axes"),
    w("first_two_errors", "convergence_factor", FIT, "slope = np.log(errors[1] / errors[0])",
      "test_convergence_factor", "only the first two errors"),
    w("first_and_last_errors", "convergence_factor", FIT,
      "slope = np.log(errors[-1] / errors[0]) / (len(errors) - 1)", "test_convergence_factor",
      "only the first and last errors"),
    w("log10_undone_with_exp", "convergence_factor", "np.log(errors)", "np.log10(errors)",
      "test_convergence_factor", "log10"),
    # predict_steps
    w("small_step_approximation", "predict_steps", PREDICT, "return int(np.ceil(-np.log(delta) / (lr * b)))",
      "test_predict_steps", "small-step approximation"),
    w("rounds_down", "predict_steps", "np.ceil", "np.floor", "test_predict_steps", "round up"),
    w("factor_without_absolute_value", "predict_steps", "abs(1 - lr * b)", "(1 - lr * b)", "test_predict_steps",
      "use the absolute value"),
    # critical_learning_rate
    w("bisection_sides_swapped", "critical_learning_rate", BRANCH,
      "            low = mid\n        else:\n            high = mid", "test_critical_learning_rate",
      "end of the interval"),
    w("waits_for_overflow", "critical_learning_rate", "if errors[-1] > errors[0]:",
      "if not np.all(np.isfinite(errors)):", "test_critical_learning_rate", "do not wait for an overflow"),
    w("too_few_halvings", "critical_learning_rate", "range(iterations)", "range(20)", "test_critical_learning_rate",
      "critical_learning_rate(b=2.0) is wrong"),
    w("alternation_taken_for_divergence", "critical_learning_rate",
      "errors = np.abs(gradient_descent(b, c, x0, mid, steps) - c)\n        if errors[-1] > errors[0]:",
      "xs = gradient_descent(b, c, x0, mid, steps) - c\n        if xs[1] * xs[0] < 0:",
      "test_critical_learning_rate", "1/b"),
    # momentum_step
    w("momentum_not_kept", "momentum_step", 'return theta - lr * state["buffer"]', "return theta - lr * grad",
      "test_momentum_step", "plain gradient descent"),
    w("momentum_averaged", "momentum_step", 'momentum * state["buffer"] + grad',
      'momentum * state["buffer"] + (1 - momentum) * grad', "test_momentum_step", "you averaged",
      (FIRST_BUFFER, 'state["buffer"] = (1 - momentum) * grad')),
    w("momentum_uphill", "momentum_step", 'theta - lr * state["buffer"]', 'theta + lr * state["buffer"]',
      "test_momentum_step", "uphill"),
    # nesterov_step
    w("nesterov_is_plain_momentum", "nesterov_step", NESTEROV, 'return theta - lr * state["buffer"]',
      "test_nesterov_step", "plain momentum"),
    w("nesterov_velocity_not_stored", "nesterov_step",
      '    if "buffer" not in state:\n        state["buffer"] = grad.copy()\n    else:\n'
      '        state["buffer"] = momentum * state["buffer"] + grad\n',
      '    buffer = momentum * state.get("buffer", 0) + grad\n', "test_nesterov_step", "not kept between steps",
      (NESTEROV, "return theta - lr * (grad + momentum * buffer)")),
    w("nesterov_without_mu", "nesterov_step", "(grad + momentum * state[", "(grad + state[", "test_nesterov_step",
      "multiplied by mu"),
    # rmsprop_step
    w("rmsprop_eps_inside_root", "rmsprop_step", "(np.sqrt(v) + eps)", "np.sqrt(v + eps)", "test_rmsprop_step",
      "outside the square root"),
    w("rmsprop_alpha_swapped", "rmsprop_step", SQUARES, "v = (1 - alpha) * v + alpha * grad ** 2",
      "test_rmsprop_step", "swapped"),
    w("rmsprop_no_root", "rmsprop_step", "(np.sqrt(v) + eps)", "(v + eps)", "test_rmsprop_step",
      "square root of v"),
    w("rmsprop_starts_at_g_squared", "rmsprop_step", "np.zeros_like(theta)", "grad ** 2", "test_rmsprop_step",
      "starts at 0"),
    # adam_step
    w("adam_no_bias_correction_of_m", "adam_step", "m_hat = m / (1 - beta1 ** t)", "m_hat = m", "test_adam_step",
      "your Adam skips bias correction: the first steps are too small by a factor 1/(1-beta1)"),
    w("adam_no_bias_correction_of_v", "adam_step", "v_hat = v / (1 - beta2 ** t)", "v_hat = v", "test_adam_step",
      "bias correction of v"),
    w("adam_no_bias_corrections", "adam_step", "m_hat = m / (1 - beta1 ** t)", "m_hat = m", "test_adam_step",
      "both bias corrections", ("v_hat = v / (1 - beta2 ** t)", "v_hat = v")),
    w("adam_eps_inside_root", "adam_step", "(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)", "test_adam_step",
      "outside the square root"),
    w("adam_counter_never_advances", "adam_step", 't = state.get("t", 0) + 1', 't = state.get("t", 0)',
      "test_adam_step", "step counter"),
    # epochs_to_target
    w("epochs_from_zero", "epochs_to_target", 'enumerate(history["loss"], start=1)', 'enumerate(history["loss"])',
      "test_epochs_to_target", "count the epochs from 1"),
    w("returns_the_loss", "epochs_to_target", "return epoch", "return loss", "test_epochs_to_target",
      "not the loss"),
    w("never_reached_gives_max_epochs", "epochs_to_target", "return None", "return max_epochs",
      "test_epochs_to_target", "the answer is None"),
    w("seed_ignored", "epochs_to_target", "model = make_network(seed)", "model = make_network(0)",
      "test_epochs_to_target", "epochs_to_target should be", ("rng=seed", "rng=0")),
    # fastest
    w("slowest_reported", "fastest", "min(reached", "max(reached", "test_fastest", "the fastest needs the fewest"),
    w("epoch_count_reported", "fastest", "fastest = min(reached, key=reached.get)",
      "fastest = min(reached.values())", "test_fastest", "should be the optimizer's name"),
    w("favourite_reported", "fastest", "fastest = min(reached, key=reached.get)", 'fastest = "Adam"',
      "test_fastest", "the fastest needs the fewest"),
]

RIGHT = [
    Right("gradient_descent_with_a_list", "gradient_descent", '''
def gradient_descent(b, c, x0, lr, steps):
    xs = [float(x0)]
    for _ in range(steps):
        gradient = b * (xs[-1] - c)
        xs.append(xs[-1] - lr * gradient)
    return np.array(xs)
'''),
    Right("convergence_factor_by_hand", "convergence_factor", '''
def convergence_factor(errors):
    t = np.arange(len(errors), dtype=float)
    y = np.log(np.asarray(errors, dtype=float))
    slope = np.sum((t - t.mean()) * (y - y.mean())) / np.sum((t - t.mean()) ** 2)
    return float(np.exp(slope))
'''),
    Right("predict_steps_by_counting", "predict_steps", '''
def predict_steps(b, lr, delta):
    rho, t = abs(1 - lr * b), 0
    while rho ** t > delta:
        t += 1
    return t
'''),
    Right("critical_learning_rate_with_a_helper", "critical_learning_rate", '''
def critical_learning_rate(b, c=0.0, x0=1.0, low=0.0, high=10.0, steps=100, iterations=60):
    def diverges(lr):
        xs = gradient_descent(b, c, x0, lr, steps)
        return abs(xs[-1] - c) > abs(xs[0] - c)

    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if diverges(mid):
            high = mid
        else:
            low = mid
    return low
'''),
    Right("momentum_as_heavy_ball", "momentum_step", '''
def momentum_step(theta, grad, state, lr, momentum=0.9):
    previous = state.get("previous", theta)
    new = theta - lr * grad + momentum * (theta - previous)
    state["previous"] = theta.copy()
    return new
'''),
    Right("nesterov_buffer_from_zero", "nesterov_step", '''
def nesterov_step(theta, grad, state, lr, momentum=0.9):
    buffer = momentum * state.get("buffer", np.zeros_like(theta)) + grad
    state["buffer"] = buffer
    return theta - lr * (grad + momentum * buffer)
'''),
    Right("rmsprop_in_place", "rmsprop_step", '''
def rmsprop_step(theta, grad, state, lr=0.01, alpha=0.99, eps=1e-8):
    if "v" not in state:
        state["v"] = np.zeros_like(theta)
    state["v"] *= alpha
    state["v"] += (1 - alpha) * grad * grad
    return theta - lr * grad / (np.sqrt(state["v"]) + eps)
'''),
    Right("adam_in_torch_form", "adam_step", '''
def adam_step(theta, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(theta), exp_avg_sq=np.zeros_like(theta))
    state["step"] += 1
    state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
    step_size = lr / (1 - beta1 ** state["step"])
    denom = np.sqrt(state["exp_avg_sq"]) / np.sqrt(1 - beta2 ** state["step"]) + eps
    return theta - step_size * state["exp_avg"] / denom
'''),
    Right("epochs_to_target_with_flatnonzero", "epochs_to_target", '''
def epochs_to_target(make_optimizer, target, max_epochs=20, seed=0):
    model = make_network(seed)
    optimizer = make_optimizer(model.parameters())
    losses = np.array(nnlib.fit(model, nnlib.CrossEntropyLoss(), optimizer, data.x_train, data.y_train,
                                epochs=max_epochs, batch_size=32, rng=seed, progress=False)["loss"])
    below = np.flatnonzero(losses < target)
    return int(below[0]) + 1 if below.size else None
'''),
    Right("fastest_by_sorting", "fastest", '''
fastest = sorted((e, name) for name, e in epochs.items() if e is not None)[0][1]
print("fastest:", fastest)
'''),
]
