"""Transformer family (book Ch. 6): encoder–decoder, BERT/ALBERT, GPT and their objectives."""
