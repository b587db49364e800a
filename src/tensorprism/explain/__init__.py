"""Attributions and explanations.

* :mod:`.attention` -- attention maps, rollout, saliency and integrated gradients (Chapter 6).
* :mod:`.graph` -- GNNExplainer (Chapter 8).
* :mod:`.permutation` -- permutation feature importance (Chapter 11, with the book's sign corrected).
* :mod:`.shapley` -- exact and permutation-sampled Shapley values (Chapter 11).
* :mod:`.lime` -- LIME for tables and images (Chapter 11).
"""
