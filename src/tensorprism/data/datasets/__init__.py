"""Dataset loaders; each module registers its datasets with ``register_dataset``."""
