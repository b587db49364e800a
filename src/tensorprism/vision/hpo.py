"""Hyper-parameter search of book §4.5.4: grid, random and Bayesian search live in
:mod:`tensorprism.train.search` (one implementation, shared with ``prism tune``); this module keeps
the ``tensorprism.vision.hpo`` import path."""

from ..train.search import SearchResult, bayes_search, grid_search, random_search

__all__ = ["SearchResult", "grid_search", "random_search", "bayes_search"]
