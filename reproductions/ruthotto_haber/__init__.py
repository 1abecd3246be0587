"""Ruthotto and Haber 2020, *Deep neural networks motivated by partial differential
equations*."""
