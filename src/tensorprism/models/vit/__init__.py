"""Vision transformers (book §6.5): ViT, DeiT and Swin."""
