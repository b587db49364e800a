"""Graph neural networks (book Chapter 8): node classifiers (``gcn``, ``gat``, ``graphsage``,
``chebnet``, ``rgcn``), graph-level models (``gin``, ``mpnn``, ``gcn-graph``), the siamese graph-pair
scorer (``gcn-pair``) and the temporal T-GCN forecaster (``tgcn``)."""
