"""Recurrent models of Chapter 5: language models, sequence classifiers, an attention
encoder–decoder for translation, and a multi-horizon forecaster (all registered by name)."""
