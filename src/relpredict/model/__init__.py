"""Model stage: graph tensors, temporal sampling."""
