"""Unit 04's second notebook, the large char-LSTM lab: plausible wrong answers and correct alternatives (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "04_rnn", "char_lab"

SOFTMAX = "torch.softmax(logits / temperature, dim=-1)"
FEED = "logits, state = model(nxt.reshape(1, 1), state)"

WRONG = [
    # vocabulary, encode, decode
    w("vocab_in_order_of_appearance", "vocabulary", '"".join(sorted(set(text)))', '"".join(dict.fromkeys(text))',
      "test_vocabulary", "sorted by code point"),
    w("vocab_with_repeats", "vocabulary", '"".join(sorted(set(text)))', '"".join(sorted(text))',
      "test_vocabulary", "each character once"),
    w("ids_start_at_one", "vocabulary", "enumerate(vocab)}", "enumerate(vocab, start=1)}",
      "test_vocabulary", "has index 0"),
    w("ids_as_floats", "vocabulary", "dtype=torch.int64)", "dtype=torch.float32)", "test_vocabulary",
      "torch.int64"),
    w("decode_with_spaces", "vocabulary", '"".join(vocab[i]', '" ".join(vocab[i]', "test_vocabulary",
      "separator"),
    # training windows
    w("target_not_shifted", "training_pairs", "y = ids[1:n * seq_len + 1]", "y = ids[:n * seq_len]",
      "test_training_pairs", "the input itself"),
    w("target_is_previous_character", "training_pairs", "x = ids[:n * seq_len]", "x = ids[1:n * seq_len + 1]",
      "test_training_pairs", "previous character", ("y = ids[1:n * seq_len + 1]", "y = ids[:n * seq_len]")),
    w("time_major_layout", "training_pairs", "x = ids[:n * seq_len].reshape(n, seq_len)",
      "x = ids[:n * seq_len].reshape(seq_len, n)", "test_training_pairs", "one row per window",
      ("y = ids[1:n * seq_len + 1].reshape(n, seq_len)", "y = ids[1:n * seq_len + 1].reshape(seq_len, n)")),
    w("overlapping_windows", "training_pairs",
      "x = ids[:n * seq_len].reshape(n, seq_len)", "x = ids[:-1].unfold(0, seq_len, 1)",
      "test_training_pairs", "do not overlap",
      ("y = ids[1:n * seq_len + 1].reshape(n, seq_len)", "y = ids[1:].unfold(0, seq_len, 1)")),
    w("one_window_too_many", "training_pairs", "n = (len(ids) - 1) // seq_len", "n = len(ids) // seq_len",
      "test_training_pairs", "N = (L - 1) // T"),
    # sampling with a temperature
    w("softmax_over_batch", "sample_next", SOFTMAX, "torch.softmax(logits / temperature, dim=0)",
      "test_sample_next", "over the batch dimension"),
    w("divided_after_softmax", "sample_next", SOFTMAX, "torch.softmax(logits, dim=-1) / temperature",
      "test_sample_next", "divided after the softmax"),
    w("multiplied_by_temperature", "sample_next", SOFTMAX, "torch.softmax(logits * temperature, dim=-1)",
      "test_sample_next", "multiplied by the temperature"),
    w("always_greedy", "sample_next", "if temperature == 0:", "if True:", "test_sample_next",
      "most likely character"),
    w("generator_not_passed", "sample_next", "torch.multinomial(probs, 1, generator=generator)",
      "torch.multinomial(probs, 1)", "test_sample_next", "pass generator=generator"),
    w("zero_temperature_divides", "sample_next", "    if temperature == 0:\n        return logits.argmax(dim=-1)\n",
      "", "test_sample_next", "without dividing by zero"),
    w("keeps_sample_dimension", "sample_next", ".squeeze(-1)", "", "test_sample_next",
      "squeeze the sample dimension"),
    # generation
    w("dropped_hidden_state", "generate", FEED, "logits, state = model(nxt.reshape(1, 1))", "test_generate",
      "dropped the hidden state each step"),
    w("samples_from_first_position", "generate", "sample_next(logits[:, -1]", "sample_next(logits[:, 0]",
      "test_generate", "prompt's first position"),
    w("refeeds_everything_with_state", "generate", FEED,
      "logits, state = model(torch.cat(out).reshape(1, -1), state)", "test_generate", "read it twice"),
    w("generate_in_training_mode", "generate", "    model.eval()\n", "", "test_generate", "model.eval()"),
    w("prompt_left_out", "generate", "out = [ids[0]]", "out = []", "test_generate", "starts with the prompt"),
    w("mode_not_restored", "generate", "    model.train(was_training)\n", "", "test_generate",
      "restore the model's mode"),
    # bits per character
    w("bpc_in_nats", "bits_per_character", "bpc = total / y.numel() / math.log(2)", "bpc = total / y.numel()",
      "test_bits_per_character", "in nats"),
    w("averaged_over_batch_only", "bits_per_character", "total / y.numel()", "total / len(y)",
      "test_bits_per_character", "averaged over the batch only"),
    w("unweighted_batch_mean", "bits_per_character", 'reduction="sum").item()', ").item()",
      "test_bits_per_character", "weight each batch by its number of characters",
      ("total / y.numel()", "total / -(-len(x) // batch_size)")),
    w("perplexity_base_e", "bits_per_character", "return bpc, 2 ** bpc", "return bpc, math.exp(bpc)",
      "test_bits_per_character", "not e ** bpc"),
    w("bpc_in_training_mode", "bits_per_character", "    model.eval()\n", "", "test_bits_per_character",
      "model.eval()"),
]

RIGHT = [
    Right("vocab_by_ord_and_index_lookup", "vocabulary", '''
def build_vocabulary(text):
    seen = set()
    for ch in text:
        seen.add(ch)
    return "".join(sorted(seen, key=ord))


def encode(s, vocab):
    return torch.as_tensor([vocab.index(ch) for ch in s], dtype=torch.long)


def decode(ids, vocab):
    out = ""
    for i in ids:
        out += vocab[int(i)]
    return out
'''),
    Right("pairs_by_a_loop_of_slices", "training_pairs", '''
def make_pairs(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    x = ids.new_zeros((n, seq_len))
    y = ids.new_zeros((n, seq_len))
    for i in range(n):
        start = i * seq_len
        x[i] = ids[start:start + seq_len]
        y[i] = ids[start + 1:start + seq_len + 1]
    return x, y
'''),
    Right("pairs_by_unfold_with_step_T", "training_pairs", '''
def make_pairs(ids, seq_len):
    # windows of size T every T characters; the targets are the same windows one character later
    x = ids[:-1].unfold(0, seq_len, seq_len)
    y = ids[1:].unfold(0, seq_len, seq_len)
    return x, y
'''),
    Right("stable_softmax_and_inverse_cdf", "sample_next", '''
def softmax_with_temperature(logits, temperature):
    z = logits / temperature
    z = z - z.max(dim=1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=1, keepdim=True)


def sample_next(logits, temperature=1.0, generator=None):
    if temperature <= 0:
        return torch.argmax(logits, dim=1)
    p = softmax_with_temperature(logits.double(), temperature)
    u = torch.rand(p.shape[0], 1, generator=generator, dtype=p.dtype, device=p.device)
    below = (p.cumsum(dim=1) < u).sum(dim=1)            # first index whose cumulative probability reaches u
    return below.clamp(max=p.shape[1] - 1)
'''),
    Right("generate_by_rereading_everything", "generate", '''
def generate(model, prefix_ids, n, temperature=1.0, generator=None):
    mode = model.training
    model.eval()
    seq = prefix_ids.to(next(model.parameters()).device).clone()
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(seq[None])              # re-read the whole text: slow, but the same function
            seq = torch.cat([seq, sample_next(logits[:, -1], temperature, generator)])
    model.train(mode)
    return seq
'''),
    Right("bpc_from_log2_softmax_and_split", "bits_per_character", '''
def bits_per_character(model, x, y, batch_size=256):
    was = model.training
    model.eval()
    bits, count = 0.0, 0
    with torch.inference_mode():
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            logp = torch.log_softmax(model(xb)[0].float(), dim=-1)
            bits -= logp.gather(-1, yb.unsqueeze(-1)).sum().item() / math.log(2)
            count += yb.numel()
    model.train(was)
    bpc = bits / count
    return bpc, 2.0 ** bpc
'''),
]
