"""Irregular hole masks from video occlusions (Section 4.1 of Liu et al., ECCV 2018).

flow (flowio, flowcompute) -> occlusion -> raw pools (pool) -> augmentation (augment)
-> bins and border categories (bins) -> the test benchmark with its manifest (build).
"""
