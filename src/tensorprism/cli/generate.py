"""``prism generate``: continue a prompt with a trained language model, streaming the text.

The run directory (or checkpoint) must hold the model and its tokenizer: the character
vocabulary ``prism train`` saves in the run's ``run_info``, or ``tokenizer.json`` (subword,
:mod:`tensorprism.data.text.subword`) / ``vocab.json`` (characters), as the Chapter 6 recipes save them. Example::

    prism generate runs/ch06_char_gpt --prompt "ROMEO:" --max-new-tokens 300 --temperature 0.8 --top-k 40
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate text from a trained language model (streams tokens)")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--prompt", "-p", default="\n")
    p.add_argument("--max-new-tokens", "-n", type=int, default=200)
    p.add_argument("--greedy", action="store_true", help="argmax decoding instead of sampling")
    p.add_argument("--temperature", "-t", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--num-beams", type=int, default=1, help="beam search (no streaming)")
    p.add_argument("--stop", action="append", default=[], help="stop at this token (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="last", choices=("last", "best"))
    p.set_defaults(func=run)


def load_tokenizer(run_dir: Path, run_info: dict | None = None):
    """The run's tokenizer: its saved character vocabulary (``run_info["preprocessing"]``, written
    by ``prism train``), else ``tokenizer.json`` / ``vocab.json`` beside the checkpoint. Returns
    ``(encode, decode, token_to_id)``."""
    from ..data.preprocessing import Preprocessing

    saved = (run_info or {}).get("preprocessing")
    if saved and saved.get("kind") == "char-vocab":
        vocab = Preprocessing.from_dict(saved)
        return (lambda text: vocab(text).tolist()), vocab.decode, vocab.stoi.get
    return _tokenizer_files(run_dir)


def _tokenizer_files(run_dir: Path):
    from ..data.text.subword import SubwordTokenizer
    from ..data.text.tokenize import CharTokenizer, Vocab
    from ..errors import DatasetNotFoundError

    for d in (run_dir, run_dir.parent, run_dir.parent.parent):
        if (d / "tokenizer.json").is_file():
            sub = SubwordTokenizer.load(d)
            return partial(sub.encode, add_special_tokens=False), sub.decode, sub.token_to_id
        if (d / "vocab.json").is_file():
            tok = CharTokenizer(Vocab.load(d / "vocab.json"))
            return tok.encode, tok.decode, tok.vocab.stoi.get
    raise DatasetNotFoundError(
        f"no tokenizer.json or vocab.json in {run_dir}; the run must save its tokenizer beside the checkpoint"
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import ConfigError
    from ..generation import GenerationConfig, generate, stream
    from ..train.run import load_run

    cfg, model, ckpt = load_run(args.path, prefer=args.checkpoint)
    if not hasattr(model, "step"):
        raise ConfigError(f"{type(model).__name__} is not a language model with a decoding step (a GPT is)")
    run_dir = Path(args.path) if Path(args.path).is_dir() else ckpt.parent
    encode, decode, to_id = load_tokenizer(run_dir, cfg.get("run_info"))
    stops = []
    for s in args.stop:
        i = to_id(s)
        if i is None:
            raise ConfigError(f"stop token {s!r} is not in the vocabulary")
        stops.append(i)
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy and args.num_beams == 1,
                           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                           repetition_penalty=args.repetition_penalty, num_beams=args.num_beams, stop_tokens=stops)
    model.eval()
    prompt = torch.tensor([encode(args.prompt)])
    if prompt.numel() == 0:
        raise ConfigError("the prompt encodes to no tokens; give a non-empty --prompt")
    gen = torch.Generator().manual_seed(args.seed)
    sys.stdout.write(args.prompt)
    with torch.no_grad():
        if args.num_beams > 1:
            sys.stdout.write(decode(generate(model.step, prompt, cfg)[0, prompt.shape[1]:].tolist()))
        else:
            for tok in stream(model.step, prompt, cfg, generator=gen):
                sys.stdout.write(decode([int(tok[0])]))
                sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
