"""Chen, Rubanova, Bettencourt and Duvenaud 2018, *Neural ordinary differential equations*."""
