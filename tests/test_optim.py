"""nnlib's optimizers and schedules against torch.optim: identical update rules, trajectories equal to 1e-12.

SGD is unit 01's; Adagrad, RMSprop, Adam and the learning-rate schedules are unit 02's.
"""
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


def run_both(groups_of_indices, group_options, defaults, seed=0, lr_change_at=None, name="SGD", steps=STEPS,
             schedule=None):
    """Run nnlib's and torch.optim's optimizer ``name`` side by side; return both trajectories, (steps, n_params) lists.

    ``schedule`` = (scheduler name, kwargs): the same learning-rate schedule steps both after every step.
    """
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    noises = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    ours = [nnlib.Parameter(v) for v in init]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]

    def groups(params):
        if groups_of_indices is None:
            return params
        return [{"params": [params[i] for i in idx], **opts} for idx, opts in zip(groups_of_indices, group_options)]

    opt = getattr(nnlib, name)(groups(ours), **defaults)
    t_opt = getattr(torch.optim, name)(groups(theirs), **defaults)
    if schedule is not None:
        sched = getattr(nnlib, schedule[0])(opt, **schedule[1])
        t_sched = getattr(torch.optim.lr_scheduler, schedule[0])(t_opt, **schedule[1])
    ours_traj, theirs_traj = [], []
    for step in range(steps):
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
        if schedule is not None:
            sched.step()
            t_sched.step()
            assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-13), f"lr after step {step + 1}"
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


# --- Unit 02: Adagrad, RMSprop, Adam and the learning-rate schedules -----------------------------------------

LONG = 200  # steps: Adam's and RMSprop's running averages forget their start over ~1/(1 - β) steps

ADAPTIVE_CONFIGS = {
    "Adagrad": {
        "defaults": {},
        "lr": dict(lr=0.1),
        "lr_decay": dict(lr=0.2, lr_decay=0.05),
        "initial_accumulator_value": dict(lr=0.1, initial_accumulator_value=0.5),
        "weight_decay": dict(lr=0.1, weight_decay=0.1),
        "large_eps": dict(lr=0.1, eps=0.3),
        "everything": dict(lr=0.3, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1, eps=1e-3),
    },
    "RMSprop": {
        "defaults": {},
        "alpha": dict(lr=0.01, alpha=0.9),
        "momentum": dict(lr=0.005, momentum=0.9),
        "centered": dict(lr=0.01, centered=True),
        "centered_momentum": dict(lr=0.003, alpha=0.95, momentum=0.8, centered=True),
        "weight_decay": dict(lr=0.01, weight_decay=0.1),
        "large_eps": dict(lr=0.05, eps=0.5),
        "everything": dict(lr=0.004, alpha=0.9, eps=1e-4, weight_decay=0.05, momentum=0.5, centered=True),
    },
    "Adam": {
        "defaults": {},
        "lr": dict(lr=0.05),
        "betas": dict(lr=0.02, betas=(0.5, 0.9)),
        "beta1_zero": dict(lr=0.02, betas=(0.0, 0.99)),
        "large_eps": dict(lr=0.05, eps=0.5),
        "weight_decay": dict(lr=0.02, weight_decay=0.1),
        "amsgrad": dict(lr=0.03, amsgrad=True),
        "everything": dict(lr=0.03, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.05, amsgrad=True),
    },
}
ADAPTIVE = [pytest.param(name, cfg, marks=pytest.mark.unit02, id=f"{name}-{cfg}")
            for name, configs in ADAPTIVE_CONFIGS.items() for cfg in configs]


@pytest.mark.parametrize("name, config", ADAPTIVE)
def test_adaptive_optimizer_trajectory_matches_torch(name, config):
    ours_traj, theirs_traj, _, _ = run_both(None, None, ADAPTIVE_CONFIGS[name][config], seed=len(config),
                                            name=name, steps=LONG)
    assert not np.allclose(ours_traj[0][0], ours_traj[-1][0]), "the parameters should move"
    assert_same_trajectory(ours_traj, theirs_traj)


GROUPS = {
    # torch ignores a group's own initial_accumulator_value (the constructor's fills every accumulator)
    "Adagrad": ([dict(lr=0.3, lr_decay=0.1), dict(initial_accumulator_value=1.0)], dict(lr=0.1, weight_decay=0.01)),
    "RMSprop": ([dict(lr=0.02, centered=True), dict(momentum=0.9)], dict(lr=0.005, alpha=0.95)),
    "Adam": ([dict(betas=(0.5, 0.6), amsgrad=True), dict(lr=0.005, weight_decay=0.1)], dict(lr=0.02)),
}


@pytest.mark.unit02
@pytest.mark.parametrize("name", GROUPS)
def test_adaptive_optimizer_two_parameter_groups_match_torch(name):
    options, defaults = GROUPS[name]
    ours_traj, theirs_traj, opt, t_opt = run_both([[0], [1]], options, defaults, name=name, steps=LONG)
    assert_same_trajectory(ours_traj, theirs_traj)
    for g, tg in zip(opt.param_groups, t_opt.param_groups):
        for key in g:
            if key != "params":
                assert g[key] == tg[key], key


@pytest.mark.unit02
@pytest.mark.parametrize("name", GROUPS)
def test_adaptive_optimizer_lr_changed_in_param_groups_takes_effect_as_in_torch(name):
    ours_traj, theirs_traj, _, _ = run_both([[0], [1]], [{}, dict(lr=0.01)], dict(lr=0.05), name=name,
                                            steps=LONG, lr_change_at=LONG // 2)
    assert_same_trajectory(ours_traj, theirs_traj)


SCHEDULES = {
    "step": ("StepLR", dict(step_size=7, gamma=0.5)),
    "step_default_gamma": ("StepLR", dict(step_size=30)),
    "exponential": ("ExponentialLR", dict(gamma=0.97)),
    "cosine": ("CosineAnnealingLR", dict(T_max=40)),
    "cosine_past_T_max": ("CosineAnnealingLR", dict(T_max=25, eta_min=1e-3)),  # 100 steps: down, up, down, up
}


@pytest.mark.unit02
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name, defaults", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.05))])
def test_schedule_learning_rates_and_trajectory_match_torch(name, defaults, schedule):
    ours_traj, theirs_traj, opt, t_opt = run_both([[0], [1]], [{}, dict(lr=0.01)], defaults, name=name,
                                                  steps=100, schedule=SCHEDULES[schedule])
    assert_same_trajectory(ours_traj, theirs_traj)
    assert [g["lr"] for g in opt.param_groups] != [0.05, 0.01], "the schedule should have changed the lr"
    assert [g["initial_lr"] for g in opt.param_groups] == [tg["initial_lr"] for tg in t_opt.param_groups]


@pytest.mark.unit02
def test_schedules_follow_their_closed_forms():
    lr0, epochs = 0.4, 60
    closed = {
        "StepLR": (dict(step_size=10, gamma=0.3), lambda e: lr0 * 0.3 ** (e // 10)),
        "ExponentialLR": (dict(gamma=0.9), lambda e: lr0 * 0.9 ** e),
        "CosineAnnealingLR": (dict(T_max=20, eta_min=0.01),
                              lambda e: 0.01 + (lr0 - 0.01) * (1 + np.cos(np.pi * e / 20)) / 2),
    }
    for name, (kwargs, formula) in closed.items():
        opt = nnlib.SGD([nnlib.Parameter(np.zeros(1))], lr=lr0)
        sched = getattr(nnlib, name)(opt, **kwargs)
        lrs = [sched.get_last_lr()[0]]
        for _ in range(epochs):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr()[0])
        np.testing.assert_allclose(lrs, [formula(e) for e in range(epochs + 1)], rtol=1e-10, err_msg=name)
        assert opt.param_groups[0]["lr"] == lrs[-1], f"{name} should write the lr into param_groups"


@pytest.mark.unit02
def test_adam_first_step_is_lr_times_the_gradient_sign():
    # bias correction: m/(1-β1) = g and v/(1-β2) = g², so the first step is lr·g/(|g| + eps) ≈ lr·sign(g)
    p = nnlib.Parameter([1.0, 1.0, 1.0])
    p.grad[...] = [1e-3, -5.0, 200.0]
    nnlib.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.data, [0.9, 1.1, 0.9], rtol=1e-14)


@pytest.mark.unit02
def test_adagrad_steps_fade_like_one_over_square_root_of_t():
    # a constant gradient g: after t steps s = t g², so step t moves lr/√t
    p = nnlib.Parameter([0.0])
    opt = nnlib.Adagrad([p], lr=1.0, eps=0.0)
    moves = []
    for _ in range(16):
        before = p.data[0]
        p.grad[...] = 3.0
        opt.step()
        moves.append(before - p.data[0])
    np.testing.assert_allclose(moves, 1 / np.sqrt(np.arange(1, 17)), rtol=1e-14)


OPTIMIZERS = ["Adagrad", "RMSprop", "Adam"]
SCHEDULERS = [("StepLR", dict(step_size=3)), ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=5))]


@pytest.mark.unit02
@pytest.mark.parametrize("name", OPTIMIZERS + ["StepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_arguments_and_defaults_match_torch(name):
    ours = getattr(nnlib, name)
    theirs = getattr(torch.optim, name, None) or getattr(torch.optim.lr_scheduler, name)
    mine = inspect.signature(ours).parameters
    their_params = inspect.signature(theirs).parameters
    assert list(mine) == [n for n in their_params if n in mine]
    for n in mine:
        if n not in ("params", "optimizer"):
            assert mine[n].default == their_params[n].default, n


@pytest.mark.unit02
@pytest.mark.parametrize("name, kwargs, match", [
    ("Adagrad", dict(lr=-0.1), "learning rate"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1e-3), "eps"),
    ("RMSprop", dict(alpha=-0.9), "alpha"),
    ("RMSprop", dict(momentum=-0.9), "momentum"),
    ("RMSprop", dict(weight_decay=-0.1), "weight_decay"),
    ("Adam", dict(betas=(1.0, 0.999)), "beta parameter at index 0"),
    ("Adam", dict(betas=(0.9, -0.1)), "beta parameter at index 1"),
    ("Adam", dict(eps=-1.0), "eps"),
    ("Adam", dict(weight_decay=-0.1), "weight_decay"),
])
def test_invalid_hyperparameters_raise_as_in_torch(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(nnlib, name)([nnlib.Parameter(np.zeros(2))], **kwargs)
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.unit02
@pytest.mark.parametrize("name, kwargs", SCHEDULERS)
def test_scheduler_rejects_a_torch_optimizer_and_a_resume_without_initial_lr(name, kwargs):
    with pytest.raises(TypeError, match="nnlib Optimizer"):
        getattr(nnlib, name)(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), **kwargs)
    with pytest.raises(KeyError, match="initial_lr"):
        getattr(nnlib, name)(nnlib.SGD([nnlib.Parameter(np.zeros(1))], lr=0.1), last_epoch=4, **kwargs)


@pytest.mark.unit02
def test_scheduler_invalid_periods_raise():
    opt = nnlib.SGD([nnlib.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        nnlib.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        nnlib.CosineAnnealingLR(opt, T_max=0)


@pytest.mark.unit02
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_is_per_parameter_and_grad_is_left_alone(name):
    a, b = nnlib.Parameter(np.ones(2)), nnlib.Parameter(np.ones(3))
    opt = getattr(nnlib, name)([a, b], lr=0.1)
    a.grad[...] = 1.0
    opt.step()
    assert np.all(a.grad == 1.0) and not b.grad.any()
    assert np.all(a.data < 1.0) and np.all(b.data == 1.0), "a zero gradient should not move b"
    assert opt.state[id(a)] is not opt.state[id(b)]
