"""The objective layer (SPEC §6): the paper's score-matching loss and its neighbours, each
defined once and evaluated by the same back ends.

    objective          value                                       gradient descent
    forward-fisher     F(c) = E_{y~N(0,I)} |v(y)|^2  (the paper)   c <- c - eta grad F
    gradient-em        K(c) = KL(N(0,I) || p_c)                    c_i <- c_i + eta E[w_i (y - c_i)]
    reverse-fisher     R(c) = (1/n) sum_j E_z |v(c_j + z)|^2       c <- c - eta grad R
    time-averaged      T(c) = int lambda(t) F(e^{-t} c) dt         c <- c - eta grad T

Layout, objective -> back end:

* :mod:`.integrands` -- the definitions: every integrand, over N(0, I) or a shifted N(c_j, I),
  in the reduced coordinates of :mod:`verify.model`;
* :mod:`.evaluate` -- which measures each objective integrates and how its value and gradient
  are assembled, with error bounds; evaluated by :class:`verify.quadrature.Integrator` in float64
  (numpy, vectorised) or mpmath (the reference), with the time average's outer rule in t;
* :mod:`.farlaw` -- each objective's far-regime drift law (derived in :mod:`proofs.objectives`).

The paper's objective, forward-fisher, is registered here, but its evaluation delegates to the
existing engines (:mod:`verify.model`, :mod:`verify.quadrature`, :mod:`verify.engine_f64`,
:mod:`verify.engine_arb`) so that it does not get slower; gradient descent on it keeps the
compiled float64 engine.  The new objectives have no compiled (numba) or Arb back end yet: their
float64 path is the vectorised numpy Integrator.
"""
from .evaluate import (GRADIENT_FORMS, OBJECTIVES, Stepper, TimeWeight, check_objective, compute,
                       gradient, time_weight, value)

__all__ = ["OBJECTIVES", "GRADIENT_FORMS", "TimeWeight", "Stepper", "check_objective", "compute",
           "gradient", "time_weight", "value"]
