"""SGD against torch.optim.SGD: identical gradient rules, 50-step trajectories equal to 1e-12."""
import inspect

import numpy as np
import pytest
import torch

import nnlib

pytestmark = pytest.mark.unit01

STEPS = 50
SHAPES = [(3, 4), (4,)]


def gradient(theta, noise):
    """A gradient that depends on the current parameters, so a wrong step changes every later one."""
    return 0.3 * theta ** 3 - np.sin(theta) + noise


def run_both(groups_of_indices, group_options, defaults, seed=0, lr_change_at=None):
    """Run nnlib.SGD and torch.optim.SGD side by side; return both trajectories, (STEPS, n_params) lists."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    noises = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    ours = [nnlib.Parameter(v) for v in init]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]

    def groups(params):
        if groups_of_indices is None:
            return params
        return [{"params": [params[i] for i in idx], **opts} for idx, opts in zip(groups_of_indices, group_options)]

    opt = nnlib.SGD(groups(ours), **defaults)
    t_opt = torch.optim.SGD(groups(theirs), **defaults)
    ours_traj, theirs_traj = [], []
    for step in range(STEPS):
        if step == lr_change_at:
            for g, tg in zip(opt.param_groups, t_opt.param_groups):
                g["lr"] *= 0.1
                tg["lr"] *= 0.1
        for p, tp, noise in zip(ours, theirs, noises[step]):
            p.grad[...] = gradient(p.data, noise)
            tp.grad = torch.from_numpy(gradient(tp.detach().numpy(), noise))
        opt.step()
        t_opt.step()
        opt.zero_grad()
        ours_traj.append([p.data.copy() for p in ours])
        theirs_traj.append([tp.detach().numpy().copy() for tp in theirs])
    return ours_traj, theirs_traj, opt, t_opt


def assert_same_trajectory(ours_traj, theirs_traj):
    for step, (a, b) in enumerate(zip(ours_traj, theirs_traj)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_allclose(pa, pb, rtol=1e-12, atol=1e-12,
                                       err_msg=f"parameter {i} after step {step + 1}")


CONFIGS = {
    "defaults": {},
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.9, dampening=0.5),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "momentum_weight_decay": dict(lr=0.05, momentum=0.8, weight_decay=0.1),
    "nesterov_weight_decay": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05),
    "all_but_nesterov": dict(lr=0.03, momentum=0.7, dampening=0.3, weight_decay=0.02),
}


@pytest.mark.parametrize("config", CONFIGS)
def test_sgd_trajectory_matches_torch(config):
    ours_traj, theirs_traj, _, _ = run_both(None, None, CONFIGS[config], seed=len(config))
    assert not np.allclose(ours_traj[0][0], ours_traj[-1][0]), "the parameters should move"
    assert_same_trajectory(ours_traj, theirs_traj)


def test_sgd_two_parameter_groups_with_different_lr_match_torch():
    ours_traj, theirs_traj, opt, t_opt = run_both(
        [[0], [1]], [dict(lr=0.1), dict(lr=0.01, momentum=0.5)], dict(lr=0.05, momentum=0.9, weight_decay=0.01))
    assert_same_trajectory(ours_traj, theirs_traj)
    for g, tg in zip(opt.param_groups, t_opt.param_groups):
        for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov"):
            assert g[key] == tg[key], key


def test_sgd_lr_changed_in_param_groups_takes_effect_as_in_torch():
    ours_traj, theirs_traj, _, _ = run_both([[0], [1]], [{}, dict(lr=0.2)], dict(lr=0.05, momentum=0.9),
                                            lr_change_at=25)
    assert_same_trajectory(ours_traj, theirs_traj)


def test_sgd_plain_step_by_hand():
    p = nnlib.Parameter([1.0, -2.0])
    p.grad[...] = [0.5, 1.0]
    nnlib.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1], rtol=1e-15)


def test_sgd_momentum_first_step_uses_the_raw_gradient_then_accumulates():
    p = nnlib.Parameter([0.0])
    opt = nnlib.SGD([p], lr=1.0, momentum=0.5, dampening=0.5)
    p.grad[...] = 1.0
    opt.step()                      # b = g = 1 (no dampening on the first step)
    assert p.data[0] == -1.0
    opt.step()                      # b = 0.5 * 1 + 0.5 * 1 = 1
    assert p.data[0] == -2.0


def test_sgd_zero_grad_clears_every_group_and_step_leaves_grad_alone():
    a, b = nnlib.Parameter(np.ones(2)), nnlib.Parameter(np.ones(3))
    opt = nnlib.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1)
    a.grad[...], b.grad[...] = 1.0, 2.0
    opt.step()
    assert np.all(a.grad == 1.0) and np.all(b.grad == 2.0)
    opt.zero_grad()
    assert not a.grad.any() and not b.grad.any()


def test_sgd_accepts_a_generator_of_parameters():
    model = nnlib.Sequential(nnlib.Linear(2, 3), nnlib.Linear(3, 1))
    opt = nnlib.SGD(model.parameters(), lr=0.1)
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 4


def test_sgd_arguments_and_defaults_match_torch():
    mine = inspect.signature(nnlib.SGD).parameters
    theirs = inspect.signature(torch.optim.SGD).parameters
    assert list(mine) == [n for n in theirs if n in mine]
    for n in mine:
        if n != "params":
            assert mine[n].default == theirs[n].default, n


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), "learning rate"),
    (dict(momentum=-0.5), "momentum"),
    (dict(weight_decay=-0.01), "weight_decay"),
    (dict(nesterov=True), "Nesterov"),
    (dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov"),
], ids=["negative_lr", "negative_momentum", "negative_weight_decay", "nesterov_without_momentum",
        "nesterov_with_dampening"])
def test_sgd_invalid_hyperparameters_raise_as_in_torch(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nnlib.SGD([nnlib.Parameter(np.zeros(2))], **kwargs)
    with pytest.raises(ValueError):
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], **kwargs)


def test_sgd_empty_parameter_list_raises():
    with pytest.raises(ValueError, match="empty"):
        nnlib.SGD([], lr=0.1)


def test_sgd_parameter_in_two_groups_raises():
    p = nnlib.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="more than one parameter group"):
        nnlib.SGD([{"params": [p]}, {"params": [p], "lr": 0.5}], lr=0.1)


def test_sgd_rejects_plain_arrays():
    with pytest.raises(TypeError, match="ndarray"):
        nnlib.SGD([np.zeros(2)], lr=0.1)
