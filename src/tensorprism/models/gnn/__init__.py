"""Graph neural networks (book Chapter 8): node classifiers (``gcn``, ``gat``, ``graphsage``,
``chebnet``, ``rgcn``) and graph-level models (``gin``, ``mpnn``, ``gcn-graph``)."""
