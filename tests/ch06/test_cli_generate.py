"""`prism generate` streams text from a trained run directory."""

from __future__ import annotations

import torch

from tensorprism import create_model
from tensorprism.cli import main
from tensorprism.data.text.lm import SlidingWindowDataset
from tensorprism.data.text.tokenize import CharTokenizer
from tensorprism.train import Trainer


def test_prism_generate_streams_from_a_run_directory(tmp_path, capsys):
    text = "to be or not to be, that is the question. " * 20
    tok = CharTokenizer.fit(text)
    model = create_model("gpt-char", vocab_size=len(tok), n_layer=1, n_embd=32, n_head=2, block_size=16)
    Trainer(model, "causal-lm", train_data=SlidingWindowDataset(torch.tensor(tok.encode(text)), 16, stride=8),
            epochs=1, max_steps=30, batch_size=16, lr=3e-3, out_dir=str(tmp_path), progress=False,
            tensorboard=False, plots=False).fit()
    tok.vocab.save(tmp_path / "vocab.json")
    assert main(["generate", str(tmp_path), "--prompt", "to be", "-n", "40", "--greedy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("to be") and len(out) == len("to be") + 40 + 1
    assert main(["generate", str(tmp_path), "--prompt", "to", "-n", "10", "--num-beams", "3"]) == 0
    assert main(["generate", str(tmp_path), "--prompt", "to", "--stop", "zz"]) == 2  # unknown stop token
