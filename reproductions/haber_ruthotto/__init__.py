"""Haber and Ruthotto 2017, *Stable architectures for deep neural networks*."""
