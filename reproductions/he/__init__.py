"""He, Zhang, Ren and Sun 2016, *Deep residual learning for image recognition*."""
