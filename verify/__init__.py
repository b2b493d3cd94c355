"""verify: symbolic-plus-numeric checks of the single-Gaussian over-parameterised score-matching paper.

Public API (SPEC §2):

- :func:`loss`, :func:`gradient`: the population score-matching loss and its gradient in the
  original coordinates (target m*, noise level t, noised or clean parameterisation), at a
  requested number of digits, each returned with an error estimate.
- :mod:`verify.model`: the same quantities in centred coordinates, both gradient forms, the
  gradient-EM direction.
- :mod:`verify.precision`: the precision policy (how many digits a configuration needs).
- :mod:`verify.quadrature`: error-controlled Gaussian expectations.
- :mod:`verify.dynamics`: gradient descent trajectories and their classification.
"""
from verify.api import loss, gradient, Result  # noqa: F401

__all__ = ["loss", "gradient", "Result"]
