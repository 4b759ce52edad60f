"""The lab models: a ResNet for 28x28 images and a character-level LSTM.

Both are small on a CPU and bigger on a GPU by their arguments alone; the
code is the same.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a shortcut: ``relu(F(x) + shortcut(x))``.

    The shortcut is the identity when the shape is kept, else a strided 1x1
    convolution with batch norm (He et al., 2016, option B). Convolutions feed
    batch norm, so they have no bias.

    Parameters: 9*C_in*C_out + 9*C_out*C_out + 4*C_out, plus C_in*C_out + 2*C_out
    for a projection shortcut.

    Shape:
        (N, C_in, H, W) -> (N, C_out, Ho, Wo), Ho = 1 + (H - 1) // stride.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class ResNet(nn.Module):
    """A ResNet for small images: a 3x3 stem, stages of residual blocks, global average pooling, a linear head.

    Stage ``i`` has ``blocks_per_stage`` blocks of ``widths[i]`` channels; every
    stage after the first starts with a stride-2 block, halving H and W
    (28 -> 14 -> 7 with three stages).

    Args:
        in_channels: 1 for grayscale images.
        num_classes: outputs (logits).
        widths: channels per stage; (16, 32, 64) trains on a CPU,
            (64, 128, 256) is the GPU configuration.
        blocks_per_stage: residual blocks per stage.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes) logits.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64),
                 blocks_per_stage: int = 1):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or blocks_per_stage < 1:
            raise ValueError(f"ResNet needs at least one stage and one block per stage, got widths={widths}, "
                             f"blocks_per_stage={blocks_per_stage}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.widths, self.blocks_per_stage = widths, blocks_per_stage
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        blocks, c_in = [], widths[0]
        for i, c_out in enumerate(widths):
            for j in range(blocks_per_stage):
                blocks.append(ResidualBlock(c_in, c_out, stride=2 if (i > 0 and j == 0) else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNet(in_channels={self.in_channels}) got input of shape {tuple(x.shape)}; "
                             f"expected (N, {self.in_channels}, H, W)")
        x = self.blocks(self.stem(x))        # (N, widths[-1], H', W')
        x = x.mean(dim=(2, 3))               # (N, widths[-1]): global average pooling
        return self.head(x)                  # (N, num_classes)

    def extra_repr(self) -> str:
        return f"widths={self.widths}, blocks_per_stage={self.blocks_per_stage}"


class _CharModel(nn.Module):
    """What the two character models share: input checks and sampling."""

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"{type(self).__name__} got input of shape {tuple(x.shape)} and dtype {x.dtype}; "
                             "expected (N, T) integer character ids")

    @torch.no_grad()
    def generate(self, prefix_ids, n: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``prefix_ids`` by ``n`` characters sampled one at a time.

        Each step feeds the last character and the carried state, and samples
        from softmax(logits / temperature): a low temperature sharpens the
        distribution towards the most likely character (``temperature=0`` is
        the argmax), a high one flattens it towards uniform.

        Args:
            prefix_ids: at least one id; a sequence (T,) or a batch (B, T).
            generator: a ``torch.Generator`` on the model's device, for
                repeatable samples.

        Shape:
            (T,) -> (T + n,); (B, T) -> (B, T + n).
        """
        device = next(self.parameters()).device
        ids = torch.as_tensor(prefix_ids, dtype=torch.int64, device=device)
        single = ids.dim() == 1
        ids = ids.unsqueeze(0) if single else ids                        # (B, T)
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"generate needs a non-empty prefix of shape (T,) or (B, T), got {tuple(ids.shape)}")
        if temperature < 0:
            raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        logits, state = self(ids)                                        # (B, T, V)
        out = [ids]
        for _ in range(n):
            last = logits[:, -1].float()                                 # (B, V)
            if temperature == 0:
                nxt = last.argmax(-1, keepdim=True)                      # (B, 1)
            else:
                nxt = torch.multinomial(torch.softmax(last / temperature, -1), 1, generator=generator)
            out.append(nxt)
            logits, state = self(nxt, state)                             # (B, 1, V)
        self.train(was_training)
        result = torch.cat(out, dim=1)                                   # (B, T + n)
        return result[0] if single else result


class CharLSTM(_CharModel):
    """A character-level language model: embedding, stacked ``nn.LSTM``, linear read-out.

    ``nn.LSTM`` runs the whole sequence in one call (cuDNN's fused kernels on
    CUDA), which is what makes it fast; ``LSTMCellLoop`` computes the same
    function one time step at a time.

    Args:
        vocab_size: number of distinct characters.
        embed_dim, hidden_size, num_layers: as in ``nn.Embedding`` / ``nn.LSTM``.
        dropout: on the outputs of every LSTM layer, the last included (as
            ``nn.LSTM`` between layers, plus before the read-out).

    Shape:
        x (N, T) ids, state ``(h, c)`` each (num_layers, N, hidden_size) or None
        -> logits (N, T, vocab_size), state.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.embed_dim, self.hidden_size = vocab_size, embed_dim, hidden_size
        self.num_layers, self.dropout = num_layers, dropout
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        self._check(x)
        out, state = self.lstm(self.embed(x), state)                     # (N, T, H)
        return self.head(self.drop(out)), state                          # (N, T, V)


class LSTMCellLoop(_CharModel):
    """``CharLSTM`` computed one time step at a time with ``nn.LSTMCell``: the slow baseline.

    Same arguments, same function and the same weights (``from_char_lstm``
    copies them); only the schedule differs: T x num_layers small kernel
    launches instead of one fused call. The benchmark measures the gap.

    Shape:
        as ``CharLSTM``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.embed_dim, self.hidden_size = vocab_size, embed_dim, hidden_size
        self.num_layers, self.dropout = num_layers, dropout
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.cells = nn.ModuleList(nn.LSTMCell(embed_dim if k == 0 else hidden_size, hidden_size)
                                   for k in range(num_layers))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_char_lstm(cls, model: CharLSTM) -> "LSTMCellLoop":
        """A loop model holding a copy of ``model``'s weights (layer k of nn.LSTM -> cell k)."""
        loop = cls(model.vocab_size, model.embed_dim, model.hidden_size, model.num_layers, model.dropout)
        loop.to(next(model.parameters()).device)
        with torch.no_grad():
            loop.embed.weight.copy_(model.embed.weight)
            loop.head.load_state_dict(model.head.state_dict())
            for k, cell in enumerate(loop.cells):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name).copy_(getattr(model.lstm, f"{name}_l{k}"))
        return loop.train(model.training)

    def forward(self, x: torch.Tensor, state=None):
        self._check(x)
        emb = self.embed(x)                                              # (N, T, E)
        n, steps = x.shape
        if state is None:
            zeros = emb.new_zeros(self.num_layers, n, self.hidden_size)
            state = (zeros, zeros)
        h, c = list(state[0].unbind(0)), list(state[1].unbind(0))        # num_layers x (N, H)
        outputs = []
        for t in range(steps):
            inp = emb[:, t]                                              # (N, E)
            for k, cell in enumerate(self.cells):
                h[k], c[k] = cell(inp, (h[k], c[k]))
                # nn.LSTM applies dropout between layers, not after the last one
                inp = F.dropout(h[k], self.dropout, self.training) if k < self.num_layers - 1 else h[k]
            outputs.append(inp)
        out = torch.stack(outputs, dim=1)                                # (N, T, H)
        return self.head(self.drop(out)), (torch.stack(h), torch.stack(c))
