"""Shared by the claims whose core is a SymPy derivation (score, gradient, em-link): run the
derivation, keep its rendered form for the report, and turn its checks into quantities."""
from __future__ import annotations

from verify.claims.common import quantity


def run_derivation(name: str, digits: int = 30, spot_check: bool = True, **derive_kw):
    """(derivation dict for the record, passed flag, quantities describing its checks).

    ``spot_check=False`` runs the symbolic steps only (the claim's own numerics stand in for the
    derivation's numeric spot check, e.g. in a quick tier); then "passed" means every symbolic
    step passed, and the record's derivation says the spot check was not run.  ``derive_kw`` go
    to the derivation (e.g. the gradient's ``core_grad``: the engine its spot check compares
    with)."""
    import proofs
    der = proofs.derive(name, digits=digits, spot_check=spot_check, **derive_kw)
    d = der.to_dict()
    d.pop("runtime_s", None)   # wall-clock: kept out of reproducible records
    steps = der.steps
    sc = der.spot_check
    qs = [quantity(f"derivation '{name}': steps passed", f"{sum(s.passed for s in steps)}/{len(steps)}",
                   claimed=f"{len(steps)}/{len(steps)}", relation="==", precision="symbolic",
                   note="; ".join(sorted({s.check.split(':')[0] for s in steps})))]
    if sc and "digits" in sc:
        qs.append(quantity(f"derivation '{name}': spot check, digits of agreement",
                           f"{float(sc['digits']):.1f}", claimed=f"{float(sc.get('required_digits', 0)):.1f}",
                           relation=">=", precision=f"{sc.get('dps')} digits",
                           note=str(sc.get("note", ""))[:200]))
    passed = der.passed if spot_check else bool(steps) and all(s.passed for s in steps)
    return d, passed, qs
