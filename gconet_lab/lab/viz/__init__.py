"""Figures, one module per kind of picture: image grids and overlays, feature maps, metric and
training plots, embeddings, data. Plain functions returning matplotlib figures (tests call them headless)."""
