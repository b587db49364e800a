"""Converters from other libraries' checkpoints and layouts into tensorprism models."""
