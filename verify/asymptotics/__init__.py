"""Reduced (slow) laws of the asymptotic regimes (issue 11): near-converged and far."""
