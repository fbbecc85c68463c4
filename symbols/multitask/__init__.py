"""Luvizon et al. 2018's soft-argmax multitask network: stem, prediction blocks, action streams,
the composed model and its losses."""
