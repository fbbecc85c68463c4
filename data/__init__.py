"""Datasets, protocols, transforms and loaders of Action Machine."""
