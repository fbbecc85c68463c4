"""Luvizon et al. 2018's training and test items: pose frames and images of the pose datasets,
their mixtures, and action clips with per-frame pose targets."""
