"""nnlib.pytorch.transfer: freezing, head replacement, parameter groups, and the shipped source model."""
import numpy as np
import pytest
import torch
from torch import nn

from nnlib import data
from nnlib.pytorch import fit, load_checkpoint, transfer

pytestmark = pytest.mark.unit05


def model_and_batch(seed=0, n=12):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    return transfer.SmallCNN(), torch.rand(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_small_cnn_shapes_and_named_backbone_and_head():
    model, x, _ = model_and_batch()
    assert model(x).shape == (12, 10) and model.features(x).shape == (12, 64)
    assert isinstance(model.fc, nn.Linear) and model.fc.in_features == 64
    assert sum(p.numel() for p in model.parameters()) < 60_000


def test_small_cnn_names_the_expected_input_shape():
    with pytest.raises(ValueError, match=r"got input of shape \(2, 3, 28, 28\); expected \(N, 1, 28, 28\)"):
        transfer.SmallCNN()(torch.zeros(2, 3, 28, 28))


def test_frozen_backbone_is_bit_identical_after_training_and_the_head_moves():
    model, x, y = model_and_batch()
    transfer.freeze(model.features)
    before = snapshot(model)
    # momentum and weight decay would move any parameter an optimizer holds, gradient or not
    opt = torch.optim.SGD(transfer.param_groups(model, 0.1, 0.1), lr=0.1, momentum=0.9, weight_decay=0.1)
    fit(model, (x, y), epochs=3, batch_size=4, optimizer=opt, progress=False)
    after = snapshot(model)
    for k in before:
        if k.startswith("features"):
            assert torch.equal(before[k], after[k]), k
        else:
            assert not torch.equal(before[k], after[k]), k
    assert all(not p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.fc.parameters())


def test_eval_alone_freezes_nothing():
    model, x, y = model_and_batch()
    model.features.eval()
    before = snapshot(model.features)
    fit(model, (x, y), epochs=1, batch_size=4, progress=False)
    assert not torch.equal(before["0.weight"], model.features[0].weight)


def test_unfreeze_makes_every_parameter_trainable_again():
    model, _, _ = model_and_batch()
    transfer.unfreeze(transfer.freeze(model))
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("num_classes", [2, 10, 37])
def test_replace_head_keeps_in_features_and_sets_the_new_output_size(num_classes):
    model, x, _ = model_and_batch()
    old = model.fc
    head = transfer.replace_head(model, num_classes, seed=1)
    assert model.fc is head and head is not old
    assert head.weight.shape == (num_classes, 64) and head.bias.shape == (num_classes,)
    assert head.weight.requires_grad and model(x).shape == (12, num_classes)


def test_replace_head_initialises_as_torch_does_with_the_seed():
    model, _, _ = model_and_batch()
    head = transfer.replace_head(model, 5, seed=3)
    torch.manual_seed(3)
    want = nn.Linear(64, 5)
    assert torch.equal(head.weight, want.weight) and torch.equal(head.bias, want.bias)


def test_replace_head_follows_the_old_heads_dtype():
    model, _, _ = model_and_batch()
    model.double()
    assert transfer.replace_head(model, 3).weight.dtype == torch.float64


def test_replace_head_rejects_a_head_that_is_not_linear():
    model = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="model.fc to be an nn.Linear head, got NoneType"):
        transfer.replace_head(model, 2)


def test_param_groups_give_each_part_its_learning_rate_and_cover_every_parameter_once():
    model, _, _ = model_and_batch()
    groups = transfer.param_groups(model, backbone_lr=1e-4, head_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-4, 1e-2]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert {id(p) for p in groups[1]["params"]} == {id(model.fc.weight), id(model.fc.bias)}


def test_param_groups_leave_frozen_parameters_out():
    model, _, _ = model_and_batch()
    transfer.freeze(model.features)
    groups = transfer.param_groups(model, backbone_lr=1e-4, head_lr=1e-2)
    assert len(groups) == 1 and groups[0]["lr"] == 1e-2
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.fc.parameters()}


def test_one_sgd_step_with_param_groups_moves_each_part_by_its_own_lr_times_its_gradient():
    model, x, y = model_and_batch()
    before = snapshot(model)
    opt = torch.optim.SGD(transfer.param_groups(model, backbone_lr=1e-3, head_lr=0.5))
    nn.functional.cross_entropy(model(x), y).backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    opt.step()
    for k, p in model.named_parameters():
        lr = 0.5 if k.startswith("fc.") else 1e-3
        torch.testing.assert_close(p.detach(), before[k] - lr * grads[k], rtol=0, atol=1e-7)


def test_tensors_keep_pixel_values_and_give_int64_labels():
    x, y = transfer.tensors(np.array([[[[0.0, 0.25]]]]), np.array([3]))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.tolist() == [[[[0.0, 0.25]]]] and y.tolist() == [3]


def test_accuracy_counts_correct_predictions():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    assert transfer.accuracy(model, x, np.array([0, 1, 1, 1])) == 0.75
    assert transfer.accuracy(model, x, np.array([0, 1, 0, 1])) == 1.0


@pytest.fixture(scope="module")
def mnist():
    return data.mnist_5k()


def test_shipped_checkpoint_is_small_intact_and_as_accurate_as_recorded(mnist):
    assert transfer.CHECKPOINT.stat().st_size < 1_000_000
    assert transfer.sha256(transfer.CHECKPOINT) == transfer.CHECKPOINT_SHA256
    model = transfer.load_source_model()
    assert transfer.accuracy(model, mnist.x_test, mnist.y_test) == transfer.CHECKPOINT_TEST_ACCURACY
    extras = load_checkpoint(transfer.CHECKPOINT, transfer.SmallCNN())
    assert extras["test_accuracy"] == transfer.CHECKPOINT_TEST_ACCURACY
    assert extras["training"] == transfer.SOURCE_TRAINING


def test_train_source_model_reproduces_the_shipped_checkpoints_accuracy(mnist):
    torch.set_num_threads(1)                  # as the checkpoint was made
    model = transfer.train_source_model(mnist)
    got = transfer.accuracy(model, mnist.x_test, mnist.y_test)
    assert abs(got - transfer.CHECKPOINT_TEST_ACCURACY) <= 0.005, (got, transfer.CHECKPOINT_TEST_ACCURACY)


def test_load_source_model_refuses_a_damaged_checkpoint(tmp_path):
    bad = tmp_path / "damaged.pt"
    raw = bytearray(transfer.CHECKPOINT.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256 is .* expected 98904ad4"):
        transfer.load_source_model(bad)


def test_target_model_makes_the_three_methods_and_never_changes_the_source():
    torch.manual_seed(0)
    source = transfer.SmallCNN()
    original = snapshot(source)
    scratch, opt_s = transfer.target_model("scratch", source, 4, lr=3e-3, seed=1)
    probe, opt_p = transfer.target_model("linear probe", source, 4, head_lr=0.2, seed=1)
    tune, opt_f = transfer.target_model("fine-tune", source, 4, backbone_lr=1e-5, head_lr=0.2, seed=1)
    assert not torch.equal(scratch.features[0].weight, source.features[0].weight)
    assert [g["lr"] for g in opt_s.param_groups] == [3e-3]
    assert torch.equal(probe.features[0].weight, source.features[0].weight)
    assert not any(p.requires_grad for p in probe.features.parameters())
    assert [g["lr"] for g in opt_p.param_groups] == [0.2]
    assert [g["lr"] for g in opt_f.param_groups] == [1e-5, 0.2]
    assert all(m.fc.out_features == 4 for m in (scratch, probe, tune)) and source.fc.out_features == 10
    for model, opt in ((scratch, opt_s), (probe, opt_p), (tune, opt_f)):
        _, x, y = model_and_batch(seed=2)
        fit(model, (x, y % 4), epochs=2, batch_size=6, optimizer=opt, progress=False)
    assert all(torch.equal(v, original[k]) for k, v in source.state_dict().items())
    with pytest.raises(ValueError, match="method must be one of"):
        transfer.target_model("probe", source, 4)


def test_few_label_comparison_gives_every_method_the_same_draws(monkeypatch):
    seen = []
    real = transfer.fit

    def spy(model, train, *args, **kwargs):
        seen.append(train[0].clone())
        return real(model, train, *args, **kwargs)

    monkeypatch.setattr(transfer, "fit", spy)
    torch.manual_seed(0)
    full = data.digits_like_mnist()
    target = data.Split(full.x_train[:300], full.y_train[:300], full.x_test[:100], full.y_test[:100])
    results = transfer.few_label_comparison(transfer.SmallCNN(), target, per_class=(1, 2), draws=2, epochs=2)
    assert set(results) == {(m, k) for m in transfer.METHODS for k in (1, 2)}
    assert all(v.shape == (2,) and np.all((0 <= v) & (v <= 1)) for v in results.values())
    assert [len(x) for x in seen] == [10] * 6 + [20] * 6
    # calls run per k, per method, per draw: seen[6*ki + 2*mi + d]
    for ki in range(2):
        for d in range(2):
            same_draw = [seen[6 * ki + 2 * mi + d] for mi in range(3)]
            assert all(torch.equal(same_draw[0], x) for x in same_draw[1:])
        assert not torch.equal(seen[6 * ki], seen[6 * ki + 1]), "two draws should differ"
