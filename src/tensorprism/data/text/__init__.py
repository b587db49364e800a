"""Text pipeline: tokenisers, vocabularies, padding/packing collators, length bucketing and
language-modelling datasets (book §5.6, D1-D6). Subword (BPE / WordPiece) tokenisers built on
the ``tokenizers`` library live in :mod:`tensorprism.data.text.subword`."""

from .collate import BucketBatchSampler, PadCollator, pad_sequences
from .lm import SlidingWindowDataset, batchify_stream, tbptt_segments
from .tokenize import CharTokenizer, Vocab, WordTokenizer

__all__ = [
    "Vocab", "CharTokenizer", "WordTokenizer", "pad_sequences", "PadCollator",
    "BucketBatchSampler", "SlidingWindowDataset", "batchify_stream", "tbptt_segments",
]
