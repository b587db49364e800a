"""Chapter 10 models: autoencoders, VAEs, GANs, normalising flows and PixelCNN, under the
``generative`` contract of :mod:`tensorprism.models.contract` (``kind``, ``data_shape``,
``sample``). Builders are registered by name in the modules of this package."""
