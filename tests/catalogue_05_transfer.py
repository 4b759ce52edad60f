"""Unit 05's catalogue of plausible wrong answers and different but correct ones (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "05_transfer", "transfer"

FREEZE_BODY = "    for p in module.parameters():\n        p.requires_grad_(False)\n    return module"

WRONG = [
    # freeze
    w("freeze_by_eval_alone", "freeze", FREEZE_BODY, "    module.eval()\n    return module",
      "test_freeze", "module.eval() does not freeze anything"),
    w("freeze_sets_a_module_attribute", "freeze", FREEZE_BODY, "    module.requires_grad = False\n    return module",
      "test_freeze", "setting module.requires_grad = False does nothing"),
    w("freeze_weights_but_not_biases", "freeze", "    for p in module.parameters():\n        p.requires_grad_(False)",
      '    for name, p in module.named_parameters():\n        if name.endswith("weight"):\n'
      "            p.requires_grad_(False)", "test_freeze", "the biases"),
    w("freeze_returns_nothing", "freeze", "    return module", "    pass", "test_freeze",
      "should return the module it froze"),
    # replace_head
    w("head_keeps_the_old_output_size", "replace_head", "nn.Linear(model.fc.in_features, num_classes)",
      "nn.Linear(model.fc.in_features, model.fc.out_features)", "test_replace_head", "the old output size"),
    w("head_in_and_out_swapped", "replace_head", "nn.Linear(model.fc.in_features, num_classes)",
      "nn.Linear(num_classes, model.fc.in_features)", "test_replace_head", "swapped"),
    w("head_not_assigned_to_the_model", "replace_head", "    model.fc = head\n", "", "test_replace_head",
      "model.fc is still the old head"),
    w("head_in_features_hard_coded", "replace_head", "nn.Linear(model.fc.in_features, num_classes)",
      "nn.Linear(64, num_classes)", "test_replace_head", "use in_features = model.fc.in_features"),
    w("old_head_reinitialised_in_place", "replace_head",
      "    head = nn.Linear(model.fc.in_features, num_classes)\n    model.fc = head\n    return head",
      "    model.fc.reset_parameters()\n    return model.fc", "test_replace_head", "the head was not replaced"),
    # param_groups
    w("frozen_parameters_left_in_the_optimizer", "param_groups",
      "if id(p) not in head_ids and p.requires_grad]", "if id(p) not in head_ids]", "test_param_groups",
      "frozen parameters"),
    w("learning_rates_swapped", "param_groups", '{"params": backbone, "lr": backbone_lr}, {"params": head, "lr": head_lr}',
      '{"params": backbone, "lr": head_lr}, {"params": head, "lr": backbone_lr}', "test_param_groups", "swapped"),
    w("head_also_in_the_backbone_group", "param_groups", "if id(p) not in head_ids and p.requires_grad]",
      "if p.requires_grad]", "test_param_groups", "more than one group"),
    w("empty_group_kept", "param_groups", 'return [g for g in groups if g["params"]]', "return groups",
      "test_param_groups", "leave out a group with no parameters"),
    # target_model
    w("probe_backbone_only_put_in_eval_mode", "target_model", "        freeze(model.features)\n",
      "        model.features.eval()\n", "test_target_model", "linear probe: the backbone is not frozen"),
    w("source_not_copied", "target_model", "model = copy.deepcopy(source)", "model = source", "test_target_model",
      "copy.deepcopy"),
    w("fine_tune_backbone_at_the_head_lr", "target_model", "param_groups(model, backbone_lr, head_lr)",
      "param_groups(model, head_lr, head_lr)", "test_target_model", "fine-tune: the backbone should train at backbone_lr"),
    w("scratch_starts_from_the_source", "target_model", "        model = SmallCNN(num_classes=num_classes)\n",
      "        model = copy.deepcopy(source)\n        replace_head(model, num_classes)\n", "test_target_model",
      "scratch: the backbone has the source's weights"),
    # few_label_comparison
    w("scored_on_the_training_images", "few_label_comparison", "accuracy(model, target.x_test, target.y_test)",
      "accuracy(model, x, y)", "test_few_label_comparison", "you scored the labelled training images"),
    w("returns_the_mean_not_each_draw", "few_label_comparison", "return {m: np.array(a) for m, a in results.items()}",
      "return {m: float(np.mean(a)) for m, a in results.items()}", "test_few_label_comparison",
      "one accuracy per draw"),
    w("unseeded_draws", "few_label_comparison", "per_class, rng=d)", "per_class)", "test_few_label_comparison",
      "two runs with the same arguments gave different accuracies"),
    w("epochs_ignored", "few_label_comparison", "epochs=epochs,", "epochs=1,", "test_few_label_comparison",
      "did the models train"),
    w("every_method_trained_from_scratch", "few_label_comparison", "target_model(method, source, 10, seed=d)",
      'target_model("scratch", source, 10, seed=d)', "test_few_label_comparison", "should beat scratch"),
    # linear_ae_loss
    w("ae_factor_2_missing", "linear_ae_loss", "r = 2.0 * (z @ W.T - x) / x.size", "r = (z @ W.T - x) / x.size",
      "test_linear_ae_loss", "factor 2"),
    w("ae_loss_summed_over_features", "linear_ae_loss", "float(np.mean((z @ W.T - x) ** 2))",
      "float(np.sum((z @ W.T - x) ** 2) / len(x))", "test_linear_ae_loss", "summed over the D features"),
    w("ae_grad_W_transposed", "linear_ae_loss", "r.T @ z", "z.T @ r", "test_linear_ae_loss", "should have shape"),
    w("ae_gradient_not_a_mean", "linear_ae_loss", "r = 2.0 * (z @ W.T - x) / x.size", "r = 2.0 * (z @ W.T - x)",
      "test_linear_ae_loss", "not divided by N*D"),
    # train_linear_ae
    w("ae_data_not_centred", "train_linear_ae", "xc = x - x.mean(axis=0)", "xc = x", "test_train_linear_ae",
      "centre x"),
    w("ae_gradient_ascent", "train_linear_ae", "        E += vE\n        W += vW", "        E -= vE\n        W -= vW",
      "test_train_linear_ae", "training diverged"),
    w("ae_encoder_never_updated", "train_linear_ae", "        E += vE\n", "", "test_train_linear_ae",
      "principal angles"),
    w("ae_steps_ignored", "train_linear_ae", "for _ in range(steps):", "for _ in range(30):", "test_train_linear_ae",
      "principal angles"),
]


RIGHT = [
    Right("freeze_with_requires_grad_", "freeze", '''
def freeze(module):
    """Make every parameter of `module` untrainable; return it."""
    module.requires_grad_(False)
    return module
'''),
    Right("replace_head_keyword_arguments", "replace_head", '''
def replace_head(model, num_classes):
    in_features = model.fc.in_features
    model.fc = nn.Linear(in_features=in_features, out_features=num_classes, bias=True)
    return model.fc
'''),
    Right("param_groups_by_name", "param_groups", '''
def param_groups(model, backbone_lr, head_lr):
    backbone, head = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (head if name.startswith("fc.") else backbone).append(p)
    groups = []
    if backbone:
        groups.append({"params": backbone, "lr": backbone_lr})
    if head:
        groups.append({"params": head, "lr": head_lr})
    return groups
'''),
    Right("target_model_with_explicit_branches", "target_model", '''
def target_model(method, source, num_classes, lr=1e-3, backbone_lr=1e-4, head_lr=1e-2, seed=0):
    torch.manual_seed(seed)
    if method == "scratch":
        fresh = SmallCNN(num_classes=num_classes)
        return fresh, torch.optim.Adam([{"params": list(fresh.parameters()), "lr": lr}])
    model = copy.deepcopy(source)
    replace_head(model, num_classes)
    if method == "linear probe":
        for p in model.features.parameters():
            p.requires_grad = False
        return model, torch.optim.Adam(model.fc.parameters(), lr=head_lr)
    return model, torch.optim.Adam([{"params": model.features.parameters(), "lr": backbone_lr},
                                    {"params": model.fc.parameters(), "lr": head_lr}])
'''),
    Right("comparison_methods_outside_draws", "few_label_comparison", '''
METHODS = ("scratch", "linear probe", "fine-tune")


def few_label_comparison(source, target, per_class, draws, epochs=60):
    results = {}
    for method in METHODS:
        accs = np.zeros(draws)
        for d in range(draws):
            idx = data.per_class_subset(target.y_train, per_class, rng=d)
            model, opt = target_model(method, source, 10, seed=d)
            fit(model, tensors(target.x_train[idx], target.y_train[idx]), epochs=epochs, batch_size=len(idx),
                optimizer=opt, progress=False)
            accs[d] = accuracy(model, target.x_test, target.y_test)
        results[method] = accs
    return results
'''),
    Right("ae_loss_other_association", "linear_ae_loss", '''
def linear_ae_loss(x, E, W):
    n, d = x.shape
    diff = x @ E.T @ W.T - x
    grad_out = 2 * diff / (n * d)
    grad_W = grad_out.T @ (x @ E.T)
    grad_E = W.T @ grad_out.T @ x
    return (diff ** 2).sum() / (n * d), grad_E, grad_W
'''),
    Right("ae_training_with_a_params_dict", "train_linear_ae", '''
def train_linear_ae(x, k, steps=800, lr=5.0, seed=0):
    rng = np.random.default_rng(seed)
    centred = x - x.mean(axis=0, keepdims=True)
    params = {"E": 0.1 * rng.standard_normal((k, x.shape[1])), "W": 0.1 * rng.standard_normal((x.shape[1], k))}
    velocity = {name: np.zeros_like(p) for name, p in params.items()}
    for _ in range(steps):
        _, grad_E, grad_W = linear_ae_loss(centred, params["E"], params["W"])
        for name, g in (("E", grad_E), ("W", grad_W)):
            velocity[name] = 0.9 * velocity[name] - lr * g
            params[name] = params[name] + velocity[name]
    return params["E"], params["W"]
'''),
]
