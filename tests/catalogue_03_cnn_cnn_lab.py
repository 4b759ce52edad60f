"""Unit 03's second notebook, the large CNN lab: plausible wrong answers and correct alternatives (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "03_cnn", "cnn_lab"

FINAL_RELU = "return F.relu(out + self.shortcut(x))"
PROJECTION_IF = "if stride != 1 or in_channels != out_channels:"
COUNT_IF = "if stride != 1 or c_in != c:"
STAGE_STRIDE = "stride=2 if (i > 0 and j == 0) else 1"

WRONG = [
    # residual block
    w("block_no_final_relu", "residual_block", FINAL_RELU, "return out + self.shortcut(x)",
      "test_residual_block", "not passed through a ReLU after adding"),
    w("block_relu_before_add", "residual_block",
      "out = self.bn2(self.conv2(out))\n        " + FINAL_RELU,
      "out = F.relu(self.bn2(self.conv2(out)))\n        return out + self.shortcut(x)",
      "test_residual_block", "comes before the addition"),
    w("block_no_shortcut", "residual_block", FINAL_RELU, "return F.relu(out)", "test_residual_block",
      "shortcut is missing"),
    w("block_no_inner_relu", "residual_block", "out = F.relu(self.bn1(self.conv1(x)))", "out = self.bn1(self.conv1(x))",
      "test_residual_block", "between the two convolutions"),
    w("block_conv_bias", "residual_block", "stride=stride, padding=1, bias=False)", "stride=stride, padding=1)",
      "test_residual_block", "no bias"),
    w("block_projection_without_stride", "residual_block", "nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)",
      "nn.Conv2d(in_channels, out_channels, 1, bias=False)", "test_residual_block", "needs the block's stride"),
    w("block_projection_always", "residual_block", PROJECTION_IF, "if True:", "test_residual_block",
      "must be the identity"),
    # parameter count
    w("count_no_batch_norm", "parameter_count", "+ 2 * widths[0]", "+ 0 * widths[0]", "test_parameter_count",
      "batch norm has trainable parameters too",
      ("9 * c_in * c + 2 * c + 9 * c * c + 2 * c", "9 * c_in * c + 9 * c * c"),
      ("total += c_in * c + 2 * c ", "total += c_in * c ")),
    w("count_running_statistics", "parameter_count", "+ 2 * widths[0]", "+ 4 * widths[0]", "test_parameter_count",
      "buffers, not trained",
      ("9 * c_in * c + 2 * c + 9 * c * c + 2 * c", "9 * c_in * c + 4 * c + 9 * c * c + 4 * c"),
      ("total += c_in * c + 2 * c ", "total += c_in * c + 4 * c ")),
    w("count_head_bias_missing", "parameter_count", "widths[-1] * num_classes + num_classes", "widths[-1] * num_classes",
      "test_parameter_count", "head's bias"),
    w("count_no_projection", "parameter_count", COUNT_IF, "if False:", "test_parameter_count",
      "needs a projection shortcut"),
    w("count_projection_everywhere", "parameter_count", COUNT_IF, "if True:", "test_parameter_count",
      "only a block that changes the shape"),
    # the model
    w("model_never_downsamples", "lab_resnet", STAGE_STRIDE, "stride=1", "test_lab_resnet", "28 -> 14 -> 7"),
    w("model_downsamples_first_stage_too", "lab_resnet", STAGE_STRIDE, "stride=2 if j == 0 else 1",
      "test_lab_resnet", "(and only there)"),
    w("model_max_pooling", "lab_resnet", "x.mean(dim=(2, 3))", "x.amax(dim=(2, 3))", "test_lab_resnet",
      "*average* pooling"),
    w("model_stem_without_relu", "lab_resnet", "nn.BatchNorm2d(widths[0]), nn.ReLU())", "nn.BatchNorm2d(widths[0]))",
      "test_lab_resnet", "no ReLU after its batch norm"),
    w("model_head_on_flattened_maps", "lab_resnet", "self.head(x.mean(dim=(2, 3)))", "self.head(x.flatten(1))",
      "test_lab_resnet", None),
    # one epoch
    w("epoch_no_zero_grad", "train_one_epoch", "        optimizer.zero_grad()\n", "", "test_train_one_epoch",
      "gradients accumulate"),
    w("epoch_not_shuffled", "train_one_epoch", "torch.randperm(len(x), device=x.device, generator=generator)",
      "torch.arange(len(x), device=x.device)", "test_train_one_epoch", "not shuffled"),
    w("epoch_zero_grad_between_backward_and_step", "train_one_epoch",
      "optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()",
      "loss.backward()\n        optimizer.zero_grad()\n        optimizer.step()", "test_train_one_epoch",
      "did not change"),
    w("epoch_returns_last_batch_loss", "train_one_epoch", "return total / len(x)", "return loss.item()",
      "test_train_one_epoch", "last batch's loss"),
    w("epoch_unweighted_batch_mean", "train_one_epoch", "total += loss.item() * len(idx)", "total += loss.item()",
      "test_train_one_epoch", "weight each batch's loss by its size",
      ("return total / len(x)", "return total / -(-len(x) // batch_size)")),
    w("epoch_no_train_mode", "train_one_epoch", "    model.train()\n", "", "test_train_one_epoch", "training mode"),
    # evaluation
    w("eval_in_training_mode", "evaluate_accuracy", "    model.eval()\n", "", "test_evaluate_accuracy",
      "call model.eval()"),
    w("eval_with_gradients", "evaluate_accuracy", "with torch.no_grad():", "if True:", "test_evaluate_accuracy",
      "torch.no_grad()"),
    w("eval_returns_count", "evaluate_accuracy", "return correct / len(x)", "return correct", "test_evaluate_accuracy",
      "not the count"),
    w("eval_skips_last_batch", "evaluate_accuracy", "range(0, len(x), batch_size)",
      "range(0, len(x) - batch_size + 1, batch_size)", "test_evaluate_accuracy", "last, smaller batch"),
    w("eval_ignores_batch_size", "evaluate_accuracy", "range(0, len(x), batch_size)", "range(0, len(x), len(x))",
      "test_evaluate_accuracy", "in batches of at most", ("x[start:start + batch_size]", "x[start:]"),
      ("y[start:start + batch_size]", "y[start:]")),
]

RIGHT = [
    Right("block_relu_modules_and_empty_sequential", "residual_block", '''
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()          # an empty Sequential returns its input
        if stride > 1 or in_channels != out_channels:
            self.shortcut.append(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False))
            self.shortcut.append(nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)
'''),
    Right("count_per_layer_helpers", "parameter_count", '''
def resnet_parameter_count(in_channels, num_classes, widths, blocks_per_stage):
    conv = lambda c_in, c_out, k: k * k * c_in * c_out
    norm = lambda c: 2 * c
    total = conv(in_channels, widths[0], 3) + norm(widths[0])
    prev = widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            downsample = stage > 0 and block == 0
            total += conv(prev, width, 3) + norm(width) + conv(width, width, 3) + norm(width)
            if downsample or prev != width:
                total += conv(prev, width, 1) + norm(width)
            prev = width
    return total + (widths[-1] + 1) * num_classes
'''),
    Right("model_stages_and_adaptive_pool", "lab_resnet", '''
class LabResNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, widths=(16, 32, 64), blocks_per_stage=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers = []
        for i, width in enumerate(widths):
            c_in = widths[max(i - 1, 0)]
            layers.append(ResidualBlock(c_in, width, 1 if i == 0 else 2))
            layers += [ResidualBlock(width, width) for _ in range(blocks_per_stage - 1)]
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))
'''),
    Right("epoch_tensor_total_and_zero_after_step", "train_one_epoch", '''
def train_one_epoch(model, optimizer, x, y, batch_size, generator=None):
    model.train()
    device = x.device
    perm = torch.randperm(x.shape[0], generator=generator, device=device)
    weighted = []
    for batch in perm.split(batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=(device.type == "cuda")):
            logits = model(x[batch])
            loss = F.cross_entropy(logits, y[batch])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        weighted.append(loss.item() * batch.numel())
    return sum(weighted) / x.shape[0]
'''),
    Right("eval_split_and_inference_mode", "evaluate_accuracy", '''
def evaluate_accuracy(model, x, y, batch_size=1000):
    mode = model.training
    model.eval()
    hits = []
    with torch.inference_mode():
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            hits.append(model(xb).argmax(-1).eq(yb))
    model.train(mode)
    return torch.cat(hits).float().mean().item()
'''),
]
