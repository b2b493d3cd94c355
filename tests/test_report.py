"""Reports rendered from a fixed set of hand-written records (tests/fixtures/records_small.json).

What is checked: every claim and verdict appears as recorded, numbers with their errors (in full
per claim, shortened in the summary), the REFUTED witness and the INCONCLUSIVE/ERROR reasons;
byte-identity across renders and after re-rendering from results.json; valid figure files; LaTeX
that compiles (when pdflatex is installed); atomic writing.
"""
from __future__ import annotations

import dataclasses
import gc
import io
import json
import math
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pypdf
import pytest
from hypothesis import given, settings, strategies as st

from verify.claims.record import ClaimRecord, Figure, Line, Quantity, loads
from verify.report import figures as report_figures
from verify.report import io as report_io
from verify.report import latex as report_latex
from verify.report import markdown as report_markdown
from verify.report import render_all, rerender
from verify.report.build import build_document
from verify.report.text import compact_json, error_up, leading_digits

FIXTURE = Path(__file__).parent / "fixtures" / "records_small.json"
HAVE_PDFLATEX = shutil.which("pdflatex") is not None
needs_pdflatex = pytest.mark.skipif(not HAVE_PDFLATEX, reason="pdflatex not installed (CI installs texlive)")


def fixture_records() -> tuple[list[ClaimRecord], dict]:
    return loads(FIXTURE.read_text(encoding="utf-8"))


# Drawing a figure (matplotlib) is most of a render's cost, so the tests below that render the
# fixture draw each figure once per input and reuse its bytes (`drawn_once`).  The key is the
# figure's full repr (every label and every value of every line) with the error bars, so a render
# from other inputs -- a record changed, or one that did not survive results.json -- draws afresh.
# Reuse is sound because the drawing is a pure function of its input, which
# test_byte_identical_across_renders checks by drawing everything again without this cache.
_RENDER_SVG, _RENDER_BOTH = report_figures.render_svg, report_figures.render_both
_DRAWN: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _draw_once(fig_rec, errors=None):
    key = (repr(fig_rec), repr(errors))
    if key not in _DRAWN:
        _DRAWN[key] = _RENDER_BOTH(fig_rec, errors)
    return _DRAWN[key]


def _patch_draw_once(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(report_figures, "render_both", _draw_once)


@pytest.fixture
def drawn_once(monkeypatch) -> None:
    _patch_draw_once(monkeypatch)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    records, prov = fixture_records()
    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        _patch_draw_once(mp)
        render_all(records, prov, out, timings={"total": 130.0}, pdf=False)
    return out


def tree_bytes(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def md_sections(md: str) -> dict[str, str]:
    """Per-claim sections of REPORT.md, keyed by claim id (from the section heading)."""
    out = {}
    for chunk in re.split(r'<a id="claim-[a-z0-9-]+"></a>\n\n##+ ', md)[1:]:
        m = re.match(r"\*\*([^*]+)\*\*", chunk)
        out[m.group(1)] = chunk.split('<a id="claim-')[0].split("## Appendix")[0]
    return out


def tex_sections(tex: str) -> dict[str, str]:
    out = {}
    for chunk in re.split(r"\\(?:sub)?section\{\\texorpdfstring\{\\textbf\{", tex)[1:]:
        out[chunk.split("}: ", 1)[0]] = chunk.split("\\section")[0]
    return out


def assert_markdown_links_resolve(report_dir: Path) -> None:
    """REPORT.md's anchors are unique, its links reach them, its images are files beside it."""
    md = (report_dir / "REPORT.md").read_text(encoding="utf-8")
    ids = re.findall(r'<a id="([^"]+)"></a>', md)
    assert len(ids) == len(set(ids))
    for target in re.findall(r"\]\(#([^)]+)\)", md):
        assert target in ids, target
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert not img.startswith(("/", "http")) and (report_dir / img).is_file(), img


def tex_plain(tex: str) -> str:
    """report.tex with the line-break hints removed, so long numbers read contiguously."""
    return tex.replace(r"\allowbreak{}", "")


# -------------------------------------------------------------------------------------------------
# Content


def test_every_claim_and_verdict_is_in_both_reports(rendered):
    records, _ = fixture_records()
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    tex = (rendered / "report.tex").read_text(encoding="utf-8")
    mds, texs = md_sections(md), tex_sections(tex)
    assert list(mds) == [r.id for r in records]
    assert [report_latex.esc(r.id) for r in records] == list(texs)
    for r in records:
        assert f"**Verdict:** {report_markdown.VERDICT_BADGE[r.verdict]} **{r.verdict}**" in mds[r.id]
        assert rf"\textbf{{Verdict:}} \textbf{{{r.verdict}}}" in texs[report_latex.esc(r.id)]
        # the claims table row links to the section and shows the recorded verdict and assurance
        row = next(ln for ln in md.splitlines() if ln.startswith(f"| [**{r.id}**]"))
        assert f"**{r.verdict}**" in row and r.assurance in row
    assert "**5 claims of the paper:** 2 CONFIRMED, 1 REFUTED, 1 INCONCLUSIVE, 1 ERROR." in md


def test_first_page_says_where_the_statements_come_from_and_links_the_catalogue(rendered):
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    intro = md.split("## The claims")[0]
    assert "full text was not available" in intro and "public abstract" in intro
    assert "[`verify/claims/CATALOGUE.md`](verify/claims/CATALOGUE.md)" in intro
    assert "SPEC" not in md
    table = md.split("## The claims")[1].split("## ")[0]
    header = next(ln for ln in table.splitlines() if ln.startswith("| Claim"))
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "Claim", "What was tested", "Verdict and basis", "Assurance", "Key number",
        "Stated against observed"]
    # the claims table, then the headline findings, then stated against observed, then claims
    assert md.index("## The claims") < md.index("## Headline findings") \
        < md.index("## Stated against observed") < md.index('<a id="claim-score">')


def test_numbers_cut_in_the_body_and_in_full_in_the_appendix(rendered):
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    tex = tex_plain((rendered / "report.tex").read_text(encoding="utf-8"))
    full = "0.312500000000000000000000000000000000000000017"
    body, appendix = md.split("## Appendix A", 1)
    assert full not in body and f"| `{full}` | `2e-45` |" in appendix
    # the body cuts to 8 significant digits (never rounded), marked …; errors rounded up
    assert "0.31250000…" in body and "10^{-45}" in body
    assert rf"\texttt{{{full}}}" in tex
    assert "dps=" not in md and "| 60 digits |" in appendix


def test_refuted_witness_and_reasons_are_shown(rendered):
    records, _ = fixture_records()
    md = md_sections((rendered / "REPORT.md").read_text(encoding="utf-8"))
    tex = tex_sections((rendered / "report.tex").read_text(encoding="utf-8"))
    refuted = next(r for r in records if r.verdict == "REFUTED")
    assert "**Witness:**" in md[refuted.id] and "0.99333333333333333333" in md[refuted.id]
    inconclusive = next(r for r in records if r.verdict == "INCONCLUSIVE")
    assert "Budget exhausted: 40 seeds at" in md[inconclusive.id]
    assert "Budget exhausted: 40 seeds at" in tex[inconclusive.id]
    error = next(r for r in records if r.verdict == "ERROR")
    assert "Traceback (most recent call last):" in md[error.id]  # the reason's first line


def test_figures_derivation_and_provenance_are_rendered(rendered):
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    tex = (rendered / "report.tex").read_text(encoding="utf-8")
    assert "](figures/thm3.1--loss-profile.svg)" in md_sections(md)["thm3.1"]
    assert r"\includegraphics[width=\linewidth]{figures/thm3.1--loss-profile.pdf}" in tex
    records, prov = fixture_records()
    score = next(r for r in records if r.id == "score")
    appendix_md = md.split("## Appendix A")[1]
    assert score.derivation["markdown"] in md.split("Derivations")[-2] + md.split("Derivations")[-1]
    assert "\\begin{align*}\n" + score.derivation["latex"] + "\n\\end{align*}" in tex.split(r"\appendix")[1]
    # inputs: in the appendix, pointing to the exact record
    assert "[`results.json`](results.json), record 3 (`thm3.5`), field `inputs`" in appendix_md
    prov_md = md.split("Provenance of the run")[1]
    keys = re.findall(r"^\| `([^`]+)` \| ", prov_md, re.M)
    assert keys == sorted(keys) and "packages.mpmath" in keys and "git_commit" in keys
    assert prov["git_commit"] in tex_plain(tex)
    # every claim section has its reproduce command
    for cid, sec in md_sections(md).items():
        assert f"`python -m verify run {cid}" in sec, cid


def test_every_finding_numbered_once_headlines_by_kind(rendered):
    """Every finding appears once, numbered F1, F2, ... (headlines first, the rest in the appendix
    "Notes on the checks"); each source's headline is its finding of the highest-priority kind."""
    from verify.report.front import HEADLINE_PRIORITY
    records, _ = fixture_records()
    md = (rendered / "REPORT.md").read_text(encoding="utf-8")
    every = [f for r in records for f in r.findings]
    numbers = [int(n) for n in re.findall(r"^\s*(?:[-*]|\d+\.) (?:<a [^>]+></a>)?\s*\*\*F(\d+)\.\*\*", md, re.M)]
    assert sorted(numbers) == list(range(1, len(every) + 1))
    heads = md.split("## Headline findings")[1].split("## Stated against observed")[0]
    # thm3.5 has a constant-gap and a time-scale finding: the constant gap leads
    assert "threshold is far above" in heads and "plateau of length" not in heads
    # notes never lead
    assert "The identity holds symbolically" not in heads
    rank = {k: i for i, k in enumerate(HEADLINE_PRIORITY)}
    assert rank["constant-gap"] < rank["time-scale"]


def test_merge_repeats_lists_the_differing_numbers():
    from verify.claims.record import Finding
    from verify.report.front import merge_repeats
    fs = [Finding(headline=f"A check of eps = {e} needs a run past tau = {t} steps.", value=t,
                  kind="time-scale") for e, t in (("0.05", "2.2e+10"), ("0.1", "3.1e+06"))]
    fs.append(Finding(headline="Something else entirely.", kind="time-scale"))
    merged = merge_repeats(fs)
    assert len(merged) == 2
    assert merged[0].headline == ("A check of eps = 0.05, 0.1 needs a run past tau = 2.2e+10, "
                                  "3.1e+06 steps (respectively).")
    assert merged[0].value == "2.2e+10; 3.1e+06"


def test_stated_against_observed_rows_and_onset_brackets():
    """Seven rows, one per stated constant; a row without its source says "not computed"; onsets
    are grid brackets with the seed count and the 95% Wilson lower bound (for k = m = 12 it is
    m / (m + z^2), z the 97.5% normal quantile)."""
    from statistics import NormalDist
    from verify.report.front import STATED_CONSTANTS, onset_brackets, stated_rows
    rows = stated_rows({}, {})
    assert len(rows) == len(STATED_CONSTANTS) == 7
    assert all(obs.startswith("not computed") for _, _, obs in rows)
    table = {"title": "Exactly one converges", "columns": ["n", "d", "M0", "runs", "exactly one"],
             "rows": [[2, 2, "1", 12, 6], [2, 2, "2", 12, 10], [2, 2, "3", 12, 12], [2, 2, "4", 12, 12]]}
    z = NormalDist().inv_cdf(0.975)
    lower = 12 / (12 + z * z)
    assert onset_brackets(table) == [f"n = 2, d = 2: between M0 = 2 and 3; 12 of 12 seeds; "
                                     f"95% lower bound {lower:.2f}"]
    md = report_markdown.render_document(build_document(*fixture_records()))
    sec = md.split("## Stated against observed")[1].split("\n## ")[0]
    assert "$`A(M)`$" in sec and sec.count("not computed") >= 5


@pytest.mark.parametrize("ascii_math, tex", [
    ("n^3 d^2 / sqrt(eta tau)", r"n^{3} d^{2} / \sqrt{\eta \tau}"),
    ("M0^(-1/3)", r"M_{0}^{-1/3}"),
    ("e^{-r^2/8}", r"e^{-r^{2}/8}"),
    ("tau^-1/2", r"\tau ^{-1/2}"),
    ("1e9 sqrt(d) n^10", r"10^{9} \sqrt{d} n^{10}"),
    ("1 - n^2 M0^(-1/3)", r"1 - n^{2} M_{0}^{-1/3}"),
    ("exp(-M0/100)", r"\exp (-M_{0}/100)"),
    ("loss >= c / tau^(1+eps)", r"\mathrm{loss} \geq c / \tau ^{1+\varepsilon}"),
    ("A <- (1 - eta/n) A", r"A \leftarrow (1 - \eta /n) A"),
])
def test_ascii_math_to_tex(ascii_math, tex):
    from matplotlib.mathtext import MathTextParser
    from verify.report.mathtext import to_tex
    assert to_tex(ascii_math) == tex
    MathTextParser("path").parse(f"${tex}$")  # mathtext (the figures) reads it too


# Prose the records can hold that once made invalid TeX: the first is the reason of an ERROR record
# from a CI run (numba's compiler stopped by Ctrl-C), "Double subscript" in pdflatex
HOSTILE_PROSE = ["RuntimeError: no object yet for <Library '_log_normal_cdf' at 0x7f3a>",
                 "M0_a and 1e-5^2", "x_a_b_c", "a^2^3 and m_1^2'", "sqrt and sqrt() and 2_sqrt(x)",
                 "a}b {c~8", "f(x_i_j) <= g_{k}_l", "sqrt(, x)"]


@pytest.mark.parametrize("ascii_math, tex", [
    ("M0_a", r"M_{0}{}_{a}"),
    ("1e-5^2", r"10^{-5}{}^{2}"),
    ("x_a_b", r"x_{a}{}_{b}"),
    ("m^2'", r"m^{2}{}'"),                     # a prime is a superscript too
    ("x'^2", r"x'^{2}"),                       # a prime then a superscript: one atom in TeX
    ("(1 - n^2)^2", r"(1 - n^{2})^{2}"),       # a bracket is a new atom: no empty one needed
    ("sqrt", r"\mathrm{sqrt}"),               # TeX's sqrt needs its argument
    ("sqrt()", r"\mathrm{sqrt}()"),
    ("3 sqrt 3/16", r"3 \sqrt{3}/16"),             # the root of the next number or symbol
])
def test_a_second_script_on_one_atom_starts_an_empty_atom(ascii_math, tex):
    from matplotlib.mathtext import MathTextParser
    from verify.report.mathtext import spans, to_tex
    assert to_tex(ascii_math) == tex
    MathTextParser("path").parse(f"${tex}$")
    if ascii_math == "M0_a":  # and the CI witness, found in prose
        assert r"'_{\log}{}_{\mathrm{normal}}" in [x for k, x in spans(HOSTILE_PROSE[0]) if k == "math"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([chr(c) for c in range(32, 127)] + [
    "eta ", "sqrt(", "log10", "mu_i", "tau", "<=", "->", "1e-5", "M0", "x'", "ubar", "m*", "inf",
    "\u2264", "\u00b7", "\u27e8", "\u27e9"]), max_size=25).map("".join))
def test_every_formula_found_in_any_prose_is_valid_tex(prose):
    """Whatever a record's text holds, each run typeset as mathematics parses (mathtext reports
    double scripts, unbalanced groups and commands short of their argument, as TeX would)."""
    from matplotlib.mathtext import MathTextParser
    from verify.report.mathtext import spans
    parser = MathTextParser("path")
    for kind, x in spans(prose):
        if kind == "math":
            parser.parse(f"${x}$")


@needs_pdflatex
def test_hostile_prose_in_a_record_compiles(tmp_path):
    """A record whose reason and findings hold the prose above typesets: pdflatex accepts it."""
    records, prov = fixture_records()
    r = dataclasses.replace(records[0], verdict="ERROR", reason="; ".join(HOSTILE_PROSE),
                            findings=list(HOSTILE_PROSE), figures=[], tables=[])
    tex = report_latex.render_latex([r], prov)
    report_latex.compile_latex(tex, {})


def test_prose_keeps_words_and_typesets_formulas():
    from verify.report.mathtext import spans
    got = spans("a symmetric pair decays like tau^-2, faster than n - 2 steps at M0 = 3")
    assert got == [("text", "a symmetric pair decays like "), ("math", r"\tau ^{-2}"),
                   ("text", ", faster than n - 2 steps at "), ("math", "M_{0} = 3")]
    assert spans("plain words only") == [("text", "plain words only")]
    # a claim's id stays a name: thm3.4 is not "thm3." and the formula "4 n=2"
    assert spans("thm3.4 n=2 M0=4.0: slope") == [("text", "thm3.4 "), ("math", "n=2 M_{0}=4.0"),
                                                ("text", ": slope")]


def test_catalogue_is_generated_from_the_claim_modules():
    from verify.report.catalogue import PATH, render_catalogue
    assert PATH.read_text(encoding="utf-8") == render_catalogue(), \
        "run: python -m verify.report.catalogue"


def test_catalogue_cli_help_and_bad_arguments_leave_the_file_alone(monkeypatch, capsys):
    """--help prints the usage and exits 0, an unknown argument exits 2; neither writes."""
    from verify.report import catalogue
    writes = []
    monkeypatch.setattr(type(catalogue.PATH), "write_text", lambda self, *a, **k: writes.append(self))
    with pytest.raises(SystemExit) as e:
        catalogue.main(["--help"])
    assert e.value.code == 0 and "--check" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        catalogue.main(["--no-such-option"])
    assert e.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    assert writes == []


def test_markdown_anchors_and_images_resolve(rendered):
    assert_markdown_links_resolve(rendered)
    tex = (rendered / "report.tex").read_text(encoding="utf-8")
    labels = set(re.findall(r"\\label\{([^}]+)\}", tex))
    assert set(re.findall(r"\\hyperref\[([^\]]+)\]", tex)) <= labels


SWEEP = {"name": "split-threshold", "title": "Split threshold", "grid": "quick",
         "text": ["n=2, d=1: ln delta* = -1.0 M^2 + 0.3", "The split starts near M = 2."],
         "fits": {}, "table": {"title": "onsets", "columns": ["n", "onset M"],
                               "rows": [[2, 2.1], [3, 2.6]]},
         "figures": [{"id": "sweep-split", "title": "Split probability against M", "xlabel": "M",
                      "ylabel": "P(split)", "xscale": "linear", "yscale": "linear", "marks": [],
                      "lines": [{"label": "n=2", "x": [1, 2, 3], "y": [0, 0.5, 1], "kind": "data"}]}]}


def test_sweep_section_hook(tmp_path, drawn_once):
    """Sweep summaries become "Where the behaviour starts", before the claims, with their figures
    drawn like the records', a reproduce command, and their tables in the appendix."""
    records, prov = fixture_records()
    render_all(records, prov, tmp_path, pdf=False, sweeps=[SWEEP])
    md = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    tex = (tmp_path / "report.tex").read_text(encoding="utf-8")
    assert md.index("## Stated against observed") < md.index("## Where the behaviour starts") \
        < md.index('<a id="claim-score">')
    assert "](figures/sweep-split-threshold--sweep-split.svg)" in md
    assert (tmp_path / "figures" / "sweep-split-threshold--sweep-split.svg").is_file()
    assert r"\includegraphics[width=\linewidth]{figures/sweep-split-threshold--sweep-split.pdf}" in tex
    assert "| 3 | 2.6 |" in md and "The split starts near" in md
    assert "`python -m verify sweep split-threshold`" in md
    plain_doc = build_document(records, prov)
    assert "Where the behaviour starts" not in report_markdown.render_document(plain_doc)


def test_sweep_constant_gap_leads_the_headlines():
    records, prov = fixture_records()
    finding = {"headline": "the stated constant is 1e9 times too large", "value": "1e9",
               "kind": "constant-gap", "evidence": "sweep-split"}
    md = report_markdown.render_document(build_document(records, prov,
                                                        sweeps=[dict(SWEEP, findings=[finding])]))
    heads = md.split("## Headline findings")[1].split("## Stated against observed")[0]
    item = next(ln for ln in heads.splitlines() if "times too large" in ln)
    assert "[sweep `split-threshold`](#sweep-split-threshold)" in item
    assert "(#sweep-fig-split-threshold-sweep-split)" in item
    assert "**F" in item
    every = [f for r in records for f in r.findings]
    assert len(re.findall(r"\*\*F\d+\.\*\*", md)) == len(every) + 1


def test_record_tables_go_to_the_appendix_and_wide_ones_are_split():
    records, prov = fixture_records()
    wide = {"title": "wide", "columns": [f"a rather long column heading {k}" for k in range(14)],
            "rows": [[f"value-{k}-{i} with words" for k in range(14)] for i in range(3)]}
    long = {"title": "long", "columns": ["i", "square"], "rows": [[i, i * i] for i in range(30)]}
    rec = dataclasses.replace(records[0], tables=[wide, long])
    md = report_markdown.render_document(build_document([rec], prov))
    body, appendix = md.split("## Appendix A", 1)
    assert "| 29 | 841 |" not in body and "| 29 | 841 |" in appendix
    assert "(continued, part 2 of" in appendix
    for k in range(1, 14):
        assert appendix.count(f"a rather long column heading {k} |") == 1


@given(st.decimals(allow_nan=False, allow_infinity=False, places=30).filter(lambda d: d != 0),
       st.integers(min_value=1, max_value=20))
@settings(max_examples=300, deadline=None)
def test_leading_digits_are_an_exact_prefix_and_errors_round_up(value, digits):
    """A cut value shows digits of the recorded value only (|shown| <= |value| < |shown| + one unit
    of its last digit), marked with "…" exactly when digits were dropped; a shortened error
    estimate is never smaller than the full one."""
    from decimal import Decimal
    text = str(value)
    cut = leading_digits(text, digits)
    if "…" not in cut:
        assert cut == text.strip()
        return
    shown = Decimal(cut.replace("…", ""))
    unit = Decimal(1).scaleb(shown.adjusted() - digits + 1)
    assert len(shown.as_tuple().digits) <= digits
    assert abs(shown) <= abs(value) < abs(shown) + unit and (shown < 0) == (value < 0)
    err = abs(value)
    assert Decimal(error_up(str(err), min(digits, 3))) >= err


def test_runtimes_only_in_timings(rendered):
    records, _ = fixture_records()
    saved, _ = loads((rendered / "results.json").read_text(encoding="utf-8"))
    assert [r.runtime_s for r in saved] == [0.0] * len(records)
    assert [dataclasses.replace(r, runtime_s=0.0) for r in records] == saved
    timings = json.loads((rendered / "timings.json").read_text(encoding="utf-8"))
    assert timings["claims"] == {r.id: r.runtime_s for r in records}
    assert timings["other"] == {"total": 130.0}
    tmd = (rendered / "timings.md").read_text(encoding="utf-8")
    assert "| `lem3.3` | REFUTED | quick | 101.25 |" in tmd
    assert f"| **sum of claims** | | | {sum(r.runtime_s for r in records):.2f} |" in tmd
    for name in ("REPORT.md", "report.tex"):
        text = (rendered / name).read_text(encoding="utf-8")
        assert "101.25" not in text and "12.75" not in text


def test_check_timings_go_to_timings_files_only(tmp_path, drawn_once):
    records, prov = fixture_records()
    records = [dataclasses.replace(records[0], timings={"population GD: seconds per step": 0.0375})] + records[1:]
    render_all(records, prov, tmp_path / "a", pdf=False)
    saved, _ = loads((tmp_path / "a" / "results.json").read_text(encoding="utf-8"))
    assert all(r.timings == {} for r in saved)
    timings = json.loads((tmp_path / "a" / "timings.json").read_text(encoding="utf-8"))
    assert timings["details"] == {records[0].id: {"population GD: seconds per step": 0.0375}}
    assert "| population GD: seconds per step | 0.04 |" in (tmp_path / "a" / "timings.md").read_text(encoding="utf-8")
    for name in ("REPORT.md", "report.tex"):
        assert "0.0375" not in (tmp_path / "a" / name).read_text(encoding="utf-8")
    # re-rendering from the saved files keeps the details
    rerender(tmp_path / "a", tmp_path / "b", pdf=False)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


# -------------------------------------------------------------------------------------------------
# Reproducibility


def test_byte_identical_across_renders(tmp_path, rendered):
    records, prov = fixture_records()
    render_all(records, prov, tmp_path / "again", timings={"total": 130.0}, pdf=False)
    a, b = tree_bytes(rendered), tree_bytes(tmp_path / "again")
    assert sorted(a) == sorted(b)
    assert sorted(a) == sorted([
        "REPORT.md", "report.tex", "results.json", "timings.json", "timings.md",
        "figures/thm3.1--loss-profile.pdf", "figures/thm3.1--loss-profile.svg",
        "figures/thm3.5--loss-loglog.pdf", "figures/thm3.5--loss-loglog.svg",
    ])
    for name in a:
        assert a[name] == b[name], name


def test_rerender_from_results_json_is_identical(tmp_path, rendered, drawn_once):
    rerender(rendered, tmp_path / "dir", pdf=False)
    rerender(rendered / "results.json", tmp_path / "file", pdf=False)
    a = tree_bytes(rendered)
    for d in ("dir", "file"):
        b = tree_bytes(tmp_path / d)
        assert a == b  # timings come back from timings.json too


def test_rerender_in_place_is_a_fixed_point(tmp_path, rendered, drawn_once):
    shutil.copytree(rendered, tmp_path / "r")
    rerender(tmp_path / "r", tmp_path / "r", pdf=False)
    assert tree_bytes(tmp_path / "r") == tree_bytes(rendered)


# -------------------------------------------------------------------------------------------------
# Figures


def test_figure_files_are_valid(rendered):
    records, _ = fixture_records()
    for r in records:
        for f in r.figures:
            svg = rendered / "figures" / f"{r.id}--{f.id}.svg"
            pdf = rendered / "figures" / f"{r.id}--{f.id}.pdf"
            root = ET.fromstring(svg.read_bytes())
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            texts = {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}
            words = " ".join(texts)
            labels = [w for w in (f.xlabel + " " + f.ylabel).split() if w.isalpha() and len(w) > 3
                      and w not in ("sqrt", "delta", "lambda", "sigma", "theta", "alpha", "gamma")]
            raw = svg.read_text(encoding="utf-8")  # mathtext labels keep their words in the file
            assert labels and all(w in raw for w in labels), labels
            assert f.title not in texts  # the title is the report's caption, not drawn twice
            data = pdf.read_bytes()
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
            assert b"CreationDate" not in data


def test_reference_lines_dashed_and_log_axes():
    fig = Figure(id="f", title="t", xlabel="step", ylabel="loss", xscale="log", yscale="log",
                 lines=[Line("data", [1, 10, 100], [1, 0.1, 0.01]),
                        Line("claimed 1/tau", [1, 10, 100], [2, 0.2, 0.02], kind="reference"),
                        Line("with a zero", [0, 1, 10], [0, 1, 2])],
                 marks=[{"x": 10, "y": 0.1, "label": "mark here"}])
    svg = report_figures.render_svg(fig).decode()
    assert svg.count("stroke-dasharray") >= 1  # the reference line, and only it
    lin = report_figures.render_svg(dataclasses.replace(fig, lines=fig.lines[:1])).decode()
    assert "stroke-dasharray" not in lin
    # a derived law is neither data (solid) nor a claim (dashed, neutral): dotted, its own colour
    law = report_figures.render_svg(dataclasses.replace(
        fig, lines=[Line("derived law", [1, 10, 100], [1, 0.1, 0.01], kind="law")])).decode()
    dashes = set(re.findall(r"stroke-dasharray: ([0-9., ]+)", law))
    ref = set(re.findall(r"stroke-dasharray: ([0-9., ]+)", svg))
    assert dashes and not dashes & ref
    assert "#9400d3" in law and "#9400d3" not in svg      # darkviolet, the first law colour
    assert "mark here" in svg
    # log axes label their ticks as powers of ten (matplotlib keeps the mathtext source in a comment)
    assert r"$\mathdefault{10^{1}}$" in svg and r"$\mathdefault{10^{-1}}$" in svg
    linear = report_figures.render_svg(dataclasses.replace(fig, xscale="linear", yscale="linear")).decode()
    assert r"\mathdefault{10^{" not in linear


# -------------------------------------------------------------------------------------------------
# LaTeX


def _hostile_record() -> ClaimRecord:
    """Text that must be escaped: every special character, Unicode from each mapping, control chars."""
    nasty = ("a_b %c &d #e $f$ ^g ~h \\i {j} <k> |l| \"m\" `n' --- o "
             + "".join(report_latex._GREEK) + "".join(report_latex._MATH_SYMBOLS)
             + "".join(report_latex._TEXT_SYMBOLS) + "⁰¹²³ₙ₁₂ é ü ß 中 😀 \x07 end")
    return ClaimRecord(
        id="odd_id #1", title=nasty, statement=nasty, provenance=nasty, verdict="REFUTED",
        assurance="numeric",
        quantities=[Quantity(name=nasty, value="-1.5e-1000", error="1e-1010", claimed=nasty, relation="<=",
                             precision="60", note=nasty)],
        findings=[nasty, "[starts with a bracket", "*starts with a star"],
        witness={"[k]": ["[1]", "*"], "n": nasty},
        reason="line one\n[bracket line]\n*star line\n\n" + nasty,
        tables=[{"title": nasty, "columns": ["[a]", "*b", nasty], "rows": [["[1]", "*", None], [True, 1.5, {"k": [1]}]]}],
        figures=[Figure(id="f/1 x", title=nasty[:40], xlabel="x_1 %", ylabel="$y$ & z", lines=[Line("l", [0, 1], [1, 2])])],
        inputs={"s": nasty, "list": list(range(50))},
        derivation={"name": nasty, "statement": nasty,
                    "latex": ["a &= b \\\\\n\nc &= d", "\\begin{equation*}x^2\\end{equation*}"],
                    "steps": [{"description": nasty, "check": "[x]", "passed": False}],
                    "spot_check": {"k": nasty}},
    )


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory) -> tuple[Path, list[Path]]:
    """The fixture's records with the hostile one (and a hostile command line) rendered with
    report.pdf: (directory, paths written).  One pdflatex build shared by the two tests below."""
    records, prov = fixture_records()
    prov = dict(prov, command="python -m verify all --out 'a b' # 100% & $HOME ~/x_y")
    out = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        _patch_draw_once(mp)
        written = render_all(records + [_hostile_record()], prov, out, pdf=True)  # raises LatexError on failure
    return out, written


@needs_pdflatex
def test_latex_compiles_and_pdf_is_reproducible(hostile_build):
    """render_all's report.pdf, and the same report.tex with the same figures compiled again (in
    another temporary directory, at another time), are the same bytes."""
    out, written = hostile_build
    assert out / "report.pdf" in written
    pdf_a = (out / "report.pdf").read_bytes()
    assert pdf_a.startswith(b"%PDF-")
    figs = {f"figures/{p.name}": p.read_bytes() for p in (out / "figures").glob("*.pdf")}
    assert pdf_a == report_latex.build_pdf((out / "report.tex").read_text(encoding="utf-8"), figs)


@needs_pdflatex
def test_latex_escaping_survives_hostile_text(hostile_build):
    out, _ = hostile_build
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    md = (out / "REPORT.md").read_text(encoding="utf-8")
    assert "## **odd\\_id \\#1**: " in md  # the id in bold, escaped


def _fragment_derivation() -> dict:
    """A small derivation rendered by proofs.base (statement and descriptions with inline math,
    a checked identity, a result wider than the line, a spot check)."""
    import sympy as sp
    from proofs.base import Derivation, Step, eq
    eta, n, a, t = sp.symbols("eta n a t", positive=True)
    step = Step(description=r"One step of $a \mapsto (1 - \eta/n)\, a$ from $a_0 = a$.",
                expr=eq(sp.Symbol("a_1"), (1 - eta / n) * a), check="symbolic-zero", passed=True,
                detail="expanded")
    wide = sum(sp.Symbol(f"c_{{{k}}}") * (1 - eta / n) ** k * sp.exp(-k * t) for k in range(1, 25))
    der = Derivation(name="contraction", statement=r"For $n \ge 2$ the mean contracts by $1 - \eta/n$.",
                     steps=[step], final=eq(sp.Symbol("S"), wide),
                     spot_check={"points": [1], "dps": 30, "digits": 29.5, "required_digits": 25,
                                 "passed": True, "note": ""})
    return der.to_dict()


@needs_pdflatex
def test_pdf_text_shows_no_tex_source_and_everything_fits(tmp_path, drawn_once):
    """The typeset PDF: no TeX source in its text (math typeset once, never shown as source), no
    overfull box in the log (tables fit the page, even a wide and a long one), every figure
    captioned and referenced from its own section."""
    records, prov = fixture_records()
    wide = {"title": "wide", "columns": [f"column heading {k}" for k in range(14)],
            "rows": [[f"{k}.{i}e-{i}5 of x_{k}" for k in range(14)] for i in range(3)]}
    long = {"title": "long", "columns": ["i", "square"], "rows": [[i, i * i] for i in range(30)]}
    records = [dataclasses.replace(records[0], tables=[wide, long])] + records[1:]
    # a derivation as the symbolic layer writes it (a document fragment: paragraph, enumerate,
    # equation* displays), the form every derivation of the committed report takes
    records = [dataclasses.replace(r, derivation=_fragment_derivation()) if r.id == "lem3.3" else r
               for r in records]
    render_all(records, prov, tmp_path, pdf=False)
    tex = (tmp_path / "report.tex").read_text(encoding="utf-8")
    assert r"\fitdisplay{" in tex and r"\paragraph{Derivation" in tex
    figs = {f"figures/{p.name}": p.read_bytes() for p in (tmp_path / "figures").glob("*.pdf")}
    pdf, log = report_latex.compile_latex(tex, figs)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert report_latex.tex_leaks(text) == []
    assert report_latex.overfull_boxes(log) == []
    assert "Headline findings" in text and "softmax-weighted mean" in text
    assert "Derivation contraction" in text
    # figures: one caption each, and the caption is not the bare title
    assert tex.count("\\caption{") == tex.count("\\includegraphics")


def test_leak_and_overfull_detectors_fire():
    assert report_latex.tex_leaks("ok line\nthe score $\\sum_i w_i$ leaked") == ["the score $\\sum_i w_i$ leaked"]
    assert report_latex.tex_leaks("x_{1} here")
    assert not report_latex.tex_leaks("plain text with x_1 and |v|^2")
    assert report_latex.overfull_boxes("Overfull \\hbox (3.2pt too wide) in paragraph\nfine") == \
        ["Overfull \\hbox (3.2pt too wide) in paragraph"]


def test_latex_escape_units():
    assert report_latex.esc("a_b%c&d#e$f") == r"a\_b\%c\&d\#e\$f"
    assert report_latex.esc("{x}\\") == r"\{x\}\textbackslash{}"
    assert report_latex.esc("τ ≤ 1") == r"\ensuremath{\tau} \ensuremath{\le} 1"
    assert report_latex.esc("中") == r"\texttt{[U+4E2D]}"
    assert report_latex.display_math("a\n\nb") == "\\begin{align*}\na\nb\n\\end{align*}"
    assert report_latex.display_math("\\begin{align}x\\end{align}") == "\\begin{align}x\\end{align}"


def test_missing_pdflatex_is_a_notice_not_an_error(tmp_path, monkeypatch, capsys, drawn_once):
    monkeypatch.setattr(report_latex.shutil, "which", lambda name: None)
    records, prov = fixture_records()
    written = render_all(records[:1], prov, tmp_path)
    assert not (tmp_path / "report.pdf").exists() and (tmp_path / "report.tex") in written
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pdflatex not found" in err[0]


# -------------------------------------------------------------------------------------------------
# Atomic writing and housekeeping


def test_figures_drawn_in_a_pool_are_the_same_bytes(monkeypatch):
    """A report with many figures draws them in worker processes: the same bytes, in the same
    order, as drawing each in this process (a fixture figure, its log-log variant and a grid)."""
    records, _ = fixture_records()
    figs = [f for r in records for f in r.figures]
    items = [(figs[0], None), (dataclasses.replace(figs[0], xscale="log", yscale="log"), None),
             (figs[-1], {})]
    monkeypatch.setattr(report_figures, "POOL_FROM", 2)
    pooled = report_figures.render_many(items, workers=2)
    assert gc.get_freeze_count() == 0          # the objects frozen for the fork are thawed
    alone = [report_figures.render_both(f, e) for f, e in items]
    assert pooled == alone and len(pooled) == 3
    assert all(svg.startswith(b"<?xml") and pdf_.startswith(b"%PDF") for svg, pdf_ in pooled)


def test_figures_drawn_with_the_shared_mathtext_cache_are_the_same_bytes():
    """render_many parses each mathtext expression once for all renderers: drawn in this process
    (each figure twice, so the second drawing is made from cache hits), the bytes equal those of
    drawings outside that scope; inside it two new parsers share one parse, and the scope
    restores matplotlib's own cache."""
    import matplotlib.mathtext as mt
    records, _ = fixture_records()
    figs = [f for r in records for f in r.figures]
    items = [(figs[0], None), (dataclasses.replace(figs[0], xscale="log", yscale="log"), None)] * 2
    cached = report_figures.render_many(items, workers=1)
    alone = [report_figures.render_both(f) for f, _ in items]
    assert cached == alone
    before = mt.MathTextParser.__dict__["_parse_cached"]
    with report_figures._shared_mathtext():
        a = mt.MathTextParser("path").parse(r"$10^{-3}$", 72)
        b = mt.MathTextParser("path").parse(r"$10^{-3}$", 72)
        assert a is b
    assert mt.MathTextParser.__dict__["_parse_cached"] is before
    assert mt.MathTextParser("path").parse(r"$10^{-3}$", 72) is not a


def test_figure_pdfs_embed_fonts_without_the_tables_no_viewer_reads():
    """A figure's PDF and SVG come from one drawing; the PDF's embedded TrueType subsets leave
    out glyph substitution, positioning and kerning (about a third of a figure's drawing time),
    and keep what is shown and copied: outlines, metrics, names, the character map.  The text
    of the axis label is still extracted from the PDF, and matplotlib's own subsetting is back
    once the drawing is done."""
    from fontTools.ttLib import TTFont
    from matplotlib.backends import _backend_pdf_ps
    from fontTools import subset as ft_subset
    records, _ = fixture_records()
    fig = next(f for r in records for f in r.figures if f.xlabel)
    svg, pdf = report_figures.render_both(fig)
    assert svg == report_figures.render_svg(fig)
    assert _backend_pdf_ps.subset is ft_subset
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()  # a Type 0 font holds its TrueType in the descendant
            font = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            desc = font.get("/FontDescriptor")
            if desc is not None and "/FontFile2" in desc.get_object():
                data = desc.get_object()["/FontFile2"].get_object().get_data()
                fonts.append(set(TTFont(io.BytesIO(data)).keys()))
    assert fonts, "no TrueType font embedded"
    for tables in fonts:
        assert not tables & {"GSUB", "GPOS", "GDEF", "kern"}, tables
        assert {"glyf", "loca", "cmap", "hmtx", "post"} <= tables, tables
    words = re.findall(r"[A-Za-z]{4,}", fig.xlabel)
    text = "".join(p.extract_text() for p in reader.pages)
    assert words and all(w in text for w in words[:3]), (words, text)


def test_failure_mid_render_leaves_previous_report_intact(tmp_path, monkeypatch, drawn_once):
    records, prov = fixture_records()
    render_all(records, prov, tmp_path, pdf=False)
    before = tree_bytes(tmp_path)

    def broken(fig, errors=None):
        raise RuntimeError("plotting failed")

    changed = [dataclasses.replace(r, title=r.title + " (changed)") for r in records]
    monkeypatch.setattr(report_figures, "render_both", broken)
    with pytest.raises(RuntimeError, match="plotting failed"):
        render_all(changed, prov, tmp_path, pdf=False)
    assert tree_bytes(tmp_path) == before


def test_interrupted_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "REPORT.md"
    report_io.write_text_atomic(target, "good report\n")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_io.write_text_atomic(target, "half")
    assert target.read_text() == "good report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["REPORT.md"]


def test_stale_figures_removed_and_duplicate_ids_rejected(tmp_path, drawn_once):
    records, prov = fixture_records()
    render_all(records, prov, tmp_path, pdf=False)
    (tmp_path / "figures" / "keep-me.txt").write_text("not ours")
    render_all([dataclasses.replace(r, figures=[]) for r in records], prov, tmp_path, pdf=False)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["keep-me.txt"]
    with pytest.raises(ValueError, match="duplicate claim ids"):
        render_all([records[0], records[0]], prov, tmp_path / "dup", pdf=False)


def test_safe_names():
    assert report_io.safe_name("thm3.1") == "thm3.1"
    assert report_io.safe_name("em-link") == "em-link"
    a, b = report_io.safe_name("a/b"), report_io.safe_name("a b")
    assert a != b and re.fullmatch(r"[A-Za-z0-9._-]+", a) and re.fullmatch(r"[A-Za-z0-9._-]+", b)
    assert not report_io.safe_name("..").startswith(".")
    assert report_io.unique_slugs(["thm3.1", "thm3-1", "score"])["score"] == "score"
    assert len(set(report_io.unique_slugs(["thm3.1", "thm3-1"]).values())) == 2


# -------------------------------------------------------------------------------------------------
# Formatting helpers


@pytest.mark.parametrize("s, expected", [
    ("3.14159265358979323846", "3.1415926…"),  # pi to 8 digits, cut, not rounded
    ("0.312500000000000000000000000000000000000000017", "0.31250000…"),
    ("-0.000123456789123", "-0.00012345678…"),
    ("1.5e-1000", "1.5e-1000"),  # no float underflow
    ("1.23456789123e-1000", "1.2345678…e-1000"),
    ("123456789012345", "1.2345678…e14"),  # the cut falls in the integer part: scientific
    ("0.5000000000000", "0.5000000000000"),  # trailing zeros are digits, not dropped ones
    ("0.925", "0.925"),
    ("[0.9, 1.1]", "[0.9, 1.1]"),  # not a decimal: unchanged
])
def test_leading_digits(s, expected):
    assert leading_digits(s, 8) == expected


@pytest.mark.parametrize("s, expected", [
    ("2.02e-67", "2.1e-67"), ("0.0412", "0.042"), ("9.95e-3", "0.0100"), ("1e-52", "1e-52"),
    ("0.041", "0.041"), ("n/a", "n/a"),
])
def test_error_up(s, expected):
    assert error_up(s, 2) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=12), children, max_size=8),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.integers(min_value=20, max_value=120))
def test_compact_json_is_json_of_the_same_value(value, width):
    text = compact_json(value, width)
    assert json.loads(text) == value
    # a line is wider than the width only when it holds one item that cannot be split:
    # a scalar, or a key with a scalar value or with the opening bracket of its value
    for line in text.split("\n"):  # not splitlines(): U+0085 and U+2028 stay raw in JSON strings
        if len(line) > width:
            item = line.strip().rstrip(",")
            m = re.fullmatch(r'("(?:[^"\\]|\\.)*"): (.*)', item)
            rest = m.group(2) if m else item
            assert rest in ("[", "{") or not isinstance(json.loads(rest), (list, dict)) or \
                len(json.dumps(json.loads(rest))) <= 2, line


# The committed report (reports/, or the directory named by VERIFY_REPORT_DIR, to check a report
# rendered elsewhere before it is committed).
COMMITTED = Path(os.environ.get("VERIFY_REPORT_DIR") or Path(__file__).resolve().parents[1] / "reports")
have_committed = pytest.mark.skipif(not (COMMITTED / "results.json").is_file(), reason="no committed reports")
BODY_PAGES = 12
# What the body must not show (issue 23): code identifiers, Python literals, the working precision
# as a keyword argument, the project's internal spec.
SNAKE_CASE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+\b")
PYTHON_LITERAL = re.compile(r"\b(?:True|False|None)\b|\[\[|\{'|\['|\bdps=")


@pytest.fixture(scope="module")
def committed_pdf() -> dict:
    """The committed report.pdf, read once: the page (1-based) of each top-level bookmark, the
    number of pages and of body pages (those before the "Appendices" bookmark) and the body's
    text (the appendix's text, 5 times longer to extract, is read by the slow tier only: see
    test_committed_pdf_appendix_reads_well).  A missing PDF fails, unless no TeX is installed to
    build one (then the test skips)."""
    path = COMMITTED / "report.pdf"
    if not path.is_file():
        if not HAVE_PDFLATEX:
            pytest.skip("no committed report.pdf and no pdflatex to build one")
        pytest.fail(f"{path} is missing: regenerate the reports with pdflatex installed")
    reader = pypdf.PdfReader(str(path))
    tops = {x.title: reader.get_destination_page_number(x) + 1
            for x in reader.outline if not isinstance(x, list)}
    assert report_latex.APPENDIX_BOOKMARK in tops, \
        f"{path} has no '{report_latex.APPENDIX_BOOKMARK}' bookmark: not rendered by this code"
    body_pages = tops[report_latex.APPENDIX_BOOKMARK] - 1
    return {"path": path, "pages": len(reader.pages), "tops": tops, "body_pages": body_pages,
            "body": "\n".join(p.extract_text() for p in reader.pages[:body_pages])}


def figure_features(fig_rec, errors) -> set[str]:
    """What a figure exercises in verify.report.figures: its drawing path (categorical grid,
    error bars, lines), axis scales, line kinds, y values of both signs (the automatic symlog
    axis), marks (a few, or more than figures.py labels) and a crowded legend (more labelled
    lines than figures.py colours one by one) or else the length of the longest label (which sets
    the legend's columns)."""
    if callable(fig_rec):
        return {"grid"}
    ys = [float(v) for ln in fig_rec.lines for v in ln.y if math.isfinite(float(v)) and float(v) != 0]
    marks = len(fig_rec.marks)
    labels = [ln.label for ln in fig_rec.lines if ln.label]
    longest = max(map(len, labels), default=0)
    return {"error bars" if errors else "lines", f"x {fig_rec.xscale}", f"y {fig_rec.yscale}",
            *(f"{ln.kind} line" for ln in fig_rec.lines),
            "y of both signs" if min(ys, default=0) < 0 < max(ys, default=0) else "y of one sign",
            "no marks" if not marks else "many marks" if marks > 4 else "a few marks",
            "grouped legend" if len(labels) > report_figures.GROUP_ABOVE else
            "legend of long labels" if longest > 40 else "legend of medium labels" if longest > 18
            else "legend of short labels"}


@have_committed
def test_committed_reports_are_this_renderer_s_output(tmp_path):
    """The committed reports/ are what this code renders from the committed results.json, sweep
    summaries and timings: REPORT.md and report.tex byte for byte, the same figure files, and
    every figure that shows something no earlier one did (figure_features) drawn again as SVG
    byte for byte, the first of them also as PDF; the Markdown's anchors and images resolve.

    All 58 figure files, and report.pdf, are redrawn and retypeset by the slow tier
    (test_committed_figures_and_pdf_are_this_renderer_s_output; 50 s here).  A change to the
    drawing code reaches the figures drawn here through what they show (grid, error bars, line
    kinds, each axis scale, marks, grouped legends), a change to the PDF backend's settings
    through the PDF, a change to the LaTeX through report.tex.  Checked by hand: capsize,
    legend font, legend columns, grid palette, symlog threshold and PDF producer mutants
    fail here."""
    from verify.sweeps.cli import load_summaries
    seen: set[str] = set()
    chosen: list[str] = []  # the figures drawn (repr of the inputs), in order
    drawn: list[str] = []

    def selective(fig_rec, errors=None):
        # the first new figure as SVG and PDF (one drawing), the later ones as SVG only
        # (render_svg's bytes are render_both's SVG), the rest not at all
        key = repr(fig_rec) + repr(errors)
        if not figure_features(fig_rec, errors) <= seen:
            seen.update(figure_features(fig_rec, errors))
            chosen.append(key)
        if key not in chosen:
            return b"not drawn", b"not drawn"
        if key == chosen[0]:
            drawn.extend(["svg", "pdf"])
            return _RENDER_BOTH(fig_rec, errors)
        drawn.append("svg")
        return _RENDER_SVG(fig_rec, errors), b"not drawn"

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_figures, "render_both", selective)
        # drawn in this process, so that `selective` sees every call (the pool's own bytes are
        # compared with in-process drawing in test_figures_drawn_in_a_pool_are_the_same_bytes)
        mp.setattr(report_figures, "POOL_FROM", 10 ** 9)
        rerender(COMMITTED, tmp_path, pdf=False, sweeps=load_summaries(COMMITTED))
    for name in ("REPORT.md", "report.tex"):
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name
    fresh = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert fresh == sorted(p.name for p in (COMMITTED / "figures").iterdir())
    compared = 0
    for name in fresh:
        data = (tmp_path / "figures" / name).read_bytes()
        if data != b"not drawn":
            assert data == (COMMITTED / "figures" / name).read_bytes(), name
            compared += 1
    assert compared == len(drawn) == len(chosen) + 1, sorted(seen)
    assert_markdown_links_resolve(COMMITTED)


@pytest.mark.slow
@have_committed
def test_committed_figures_and_pdf_are_this_renderer_s_output(tmp_path, committed_pdf):
    """Every committed figure is what this code draws (SVG and PDF, byte for byte); report.tex
    compiles with nothing too wide for its line, and report.pdf is report.tex typeset (the same
    bytes, or else the same pages and text: another TeX installation may differ in bytes only)."""
    from verify.sweeps.cli import load_summaries
    rerender(COMMITTED, tmp_path, pdf=False, sweeps=load_summaries(COMMITTED))
    for fig in sorted((tmp_path / "figures").iterdir()):
        assert fig.read_bytes() == (COMMITTED / "figures" / fig.name).read_bytes(), fig.name
    if not HAVE_PDFLATEX:
        return
    figs = {f"figures/{p.name}": p.read_bytes() for p in (COMMITTED / "figures").glob("*.pdf")}
    pdf, log = report_latex.compile_latex((COMMITTED / "report.tex").read_text(encoding="utf-8"), figs)
    assert report_latex.overfull_boxes(log) == []
    committed = committed_pdf["path"].read_bytes()
    if pdf != committed:
        fresh = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
        old = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(committed)).pages]
        assert len(fresh) == len(old) and fresh == old, "report.pdf is not report.tex typeset"


@have_committed
def test_committed_pdf_body_is_at_most_12_pages(committed_pdf):
    """Issue 23: a main body of at most 12 pages, the claims table on page 1 and the headline
    findings starting by page 2."""
    assert committed_pdf["body_pages"] <= BODY_PAGES, committed_pdf["tops"]
    assert committed_pdf["tops"]["The claims"] == 1
    assert committed_pdf["tops"]["Headline findings"] <= 2
    assert committed_pdf["tops"]["Stated against observed"] <= committed_pdf["body_pages"]


@have_committed
def test_committed_pdf_reads_well(committed_pdf):
    """Issue 23's properties of the PDF's body text: no TeX source, no code identifier, Python
    literal, "dps=" or "SPEC", at most 10 ASCII carets; every finding number once; every claim
    and every sweep of the body with its reproduce command.  (The appendix: slow tier.)"""
    body = committed_pdf["body"]
    assert report_latex.tex_leaks(body) == []
    assert_no_program_vocabulary(body)
    numbers = re.findall(r"(?:^|•\s*)F(\d+)\.\s", body, re.M)
    assert numbers and len(numbers) == len(set(numbers))
    records, _ = loads((COMMITTED / "results.json").read_text(encoding="utf-8"))
    flat = " ".join(body.split())
    from verify.report.build import PAPER_CLAIMS, PAPER_SWEEPS
    for r in records:
        if r.id in PAPER_CLAIMS:
            assert f"python -m verify run {r.id}" in flat, r.id
    for name in PAPER_SWEEPS:
        if (COMMITTED / "sweeps" / name / "summary.json").is_file():
            assert f"python -m verify sweep {name}" in flat, name


@pytest.mark.slow
@have_committed
def test_committed_pdf_appendix_reads_well(committed_pdf):
    """The whole of report.pdf (67 appendix pages, about 7 s to extract): no TeX source, every
    finding number once.  In the default tier the renderer's appendix (tables, provenance, a bare
    math derivation and a proofs.base fragment) is typeset and leak-checked by
    test_pdf_text_shows_no_tex_source_and_everything_fits, the committed report.tex is this
    renderer's output (test_committed_reports_are_this_renderer_s_output) and the committed
    REPORT.md numbers every finding once (test_committed_findings_numbered_once)."""
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(committed_pdf["path"])).pages)
    assert report_latex.tex_leaks(text) == []
    numbers = re.findall(r"(?:^|•\s*)F(\d+)\.\s", text, re.M)
    assert numbers and len(numbers) == len(set(numbers))


@have_committed
def test_committed_findings_numbered_once():
    """The committed REPORT.md numbers every finding once: F1, F2, ... without a gap."""
    md = (COMMITTED / "REPORT.md").read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^\s*(?:[-*]|\d+\.) (?:<a [^>]+></a>)?\s*\*\*F(\d+)\.\*\*", md, re.M)]
    assert numbers and sorted(numbers) == list(range(1, len(numbers) + 1))


def markdown_body_prose(md: str) -> str:
    """REPORT.md's body (before the appendix) as prose: math spans and blocks, link targets and
    anchors removed; code spans must be claim or sweep names, commands or the report's files
    (they are dropped after that check)."""
    body = md.split("## Appendix A")[0]
    t = re.sub(r"\$`[^`]*`\$", "", body)
    t = re.sub(r"```math.*?```", "", t, flags=re.S)
    t = re.sub(r"\]\([^)]*\)", "]", t)
    t = re.sub(r'<a id="[^"]*"></a>', "", t)
    for span in re.findall(r"`[^`]+`", t):
        assert re.fullmatch(r"`(python -m verify [^`]+|[a-z0-9.\-]+|verify/claims/CATALOGUE\.md|"
                            r"results\.json)`", span), span
    return re.sub(r"`[^`]+`", "", t)


def assert_no_program_vocabulary(prose: str) -> None:
    assert SNAKE_CASE.findall(prose.replace("\\_", "_")) == []
    assert PYTHON_LITERAL.findall(prose) == []
    assert "SPEC" not in prose
    assert prose.count("^") <= 10


def test_markdown_body_has_no_program_vocabulary(rendered):
    assert_no_program_vocabulary(markdown_body_prose((rendered / "REPORT.md").read_text(encoding="utf-8")))


@have_committed
def test_committed_markdown_body_has_no_program_vocabulary():
    """REPORT.md: the same structure as the PDF (claims table, headlines, stated against
    observed, then the claims) and no code identifier, Python literal or "SPEC" in its body."""
    md = (COMMITTED / "REPORT.md").read_text(encoding="utf-8")
    assert md.index("## The claims") < md.index("## Headline findings") \
        < md.index("## Stated against observed") < md.index('<a id="claim-') < md.index("## Appendix A")
    assert_no_program_vocabulary(markdown_body_prose(md))


@have_committed
def test_committed_claims_table_and_stated_against_observed():
    """In the committed REPORT.md: every row of the claims table has a verdict with its basis and
    a key number; "Stated against observed" has one row per stated constant of the issue (seven),
    each with its source's numbers (none "not computed")."""
    from verify.report.front import STATED_CONSTANTS
    md = (COMMITTED / "REPORT.md").read_text(encoding="utf-8")
    table = md.split("## The claims")[1].split("\n## ")[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| [**")]
    records, _ = loads((COMMITTED / "results.json").read_text(encoding="utf-8"))
    assert rows
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip("|"))]
        verdict, key = cells[2], cells[4]
        assert re.match(r"\S+ \*\*[A-Z]+\*\*: \S", verdict), row  # verdict: basis
        assert key not in ("", "—"), row
    stated = md.split("## Stated against observed")[1].split("\n## ")[0]
    srows = [ln for ln in stated.splitlines() if ln.startswith("| ") and not ln.startswith("| Claim")]
    assert len(srows) == len(STATED_CONSTANTS) == 7
    for ln in srows:
        assert "not computed" not in ln, ln


@have_committed
def test_committed_figures_referenced_exist():
    tex = (COMMITTED / "report.tex").read_text(encoding="utf-8")
    md = (COMMITTED / "REPORT.md").read_text(encoding="utf-8")
    paths = re.findall(r"\\includegraphics\[[^\]]*\]\{([^}]+)\}", tex)
    paths += re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert paths
    for p in paths:
        assert (COMMITTED / p).is_file(), p


def test_records_refuse_wall_clock_table_columns():
    """results.json is byte-reproducible only if no run time is in it: a table column holding
    seconds is refused (such times go to the record's timings, i.e. timings.json)."""
    from verify.claims.record import check_reproducible
    records, _ = fixture_records()
    for col in ("seconds", "wall time", "Runtime", "elapsed (ms)"):
        with pytest.raises(ValueError, match="wall-clock"):
            check_reproducible(dataclasses.replace(
                records[0], tables=[{"title": "t", "columns": ["n", col], "rows": []}]))
    check_reproducible(dataclasses.replace(
        records[0], tables=[{"title": "t", "columns": ["n", "steps", "time scale T"], "rows": []}]))


def test_beyond_the_paper_renders_other_records_and_sweeps():
    """Records and sweeps beyond the paper's claims (a neighbour's claim, another objective's
    sweep) get their own appendix section, rendered like the others; the body keeps the paper's
    claims and says on its first page where the others are."""
    records, prov = fixture_records()
    extra = dataclasses.replace(records[0], id="em-global", title="Gradient EM converges globally")
    sweep = dict(SWEEP, name="sgd-batch", title="SGD against the batch size", findings=[])
    md = report_markdown.render_document(build_document(records + [extra], prov,
                                                        sweeps=[SWEEP, sweep]))
    body, appendix = md.split("## Appendix A", 1)
    assert "**em-global**" not in body and "SGD against the batch size" not in body
    intro = body.split("## The claims")[0]
    assert "1 record and 1 sweep on claims the paper does not make" in intro
    assert '](#beyond)' in intro
    beyond = appendix.split('<a id="beyond"></a>')[1]
    assert "Beyond the paper" in beyond.split("\n")[2]
    assert "**em-global**" in beyond and "SGD against the batch size" in beyond
    assert "`python -m verify run em-global" in beyond and "`python -m verify sweep sgd-batch`" in beyond
