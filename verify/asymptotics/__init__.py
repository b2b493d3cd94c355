"""Reduced (slow) laws of the asymptotic regimes (issue 11), each derived in ``proofs/`` and
validated against full gradient descent by the claims that use it:

* :mod:`verify.asymptotics.near` -- near-converged regime (all means close to the target): the
  spread's cubic slow law, plateau time n^2/(16 eta a0^2), late loss r n^2/(64 (eta tau)^2)
  (proofs/near_converged.py; claim thm2.1).
* :mod:`verify.asymptotics.far` -- far regime (a converged near mean and a far cluster): the
  exponentially small drift of the far cluster (proofs/far_drift.py; claims thm3.4, thm3.5, thm3.7).
"""
