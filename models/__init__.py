"""Partial convolutions (Section 3.1), the Table-2 U-Net, its loss (Section 3.3) and training (4.2)."""
