"""The regression gates catch a real slowdown and pass an unchanged tree.

* ``peers``: ours ÷ torchdiffeq measured in one process, against a baseline ratio; a
  monkeypatched RK4 that does its work twice is flagged (seconds).
* the overhead gate: ours ÷ the hand-written loop of the same table against the fixed
  target (1.6); a monkeypatched RK4 doing its work three times, and an output off by
  1e-2, are flagged; ``nnde bench peers`` exits 1 on either.
* ``nnde bench compare --base REV``: a throwaway commit in a temporary clone doubles the
  work of RK4's step; the gate exits 1 against its parent and 0 on the unchanged tree in
  5 of 5 runs.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from nnde.bench import catalog as C
from nnde.bench import peers as P
from nnde.integrators.explicit import ExplicitRK

ROOT = Path(__file__).resolve().parents[1]
RK4_FWD = "rk4-dense-small-forward-cpu"
EULER_FWD = "euler-dense-small-forward-cpu"


def _pairs():
    return [(C.Case.from_id(RK4_FWD), C.Case("torchdiffeq.rk4", "dense"))]


def _doubled(orig):
    def integrate_fixed(self, *args, **kwargs):
        if self.name == "rk4":
            orig(self, *args, **kwargs)  # the same work again, result discarded
        return orig(self, *args, **kwargs)

    return integrate_fixed


def test_peer_gate_flags_a_doubled_step_and_passes_unchanged(monkeypatch):
    base = {r.key: r.ratio for r in P.measure(_pairs(), rounds=5, samples=5)}
    again = P.measure(_pairs(), rounds=5, samples=5)
    assert P.gate(again, base) == []
    monkeypatch.setattr(ExplicitRK, "integrate_fixed", _doubled(ExplicitRK.integrate_fixed))
    slowed = P.measure(_pairs(), rounds=5, samples=5)
    assert [r.key for r in P.gate(slowed, base)] == [again[0].key], P.table(slowed, base)


def test_peer_gate_sees_a_slower_field_module(monkeypatch):
    """The peer side integrates a plain-torch copy of the dense field, so a slowdown in
    nnde.fields shows in ours ÷ torchdiffeq instead of cancelling out."""
    from nnde.fields import DenseField

    pairs = [(C.Case.from_id(EULER_FWD), C.Case("torchdiffeq.euler", "dense"))]
    base = {r.key: r.ratio for r in P.measure(pairs, rounds=5, samples=5)}
    orig = DenseField.forward

    def slow(self, t, y):  # three times the field's work, the same result
        orig(self, t, y)
        orig(self, t, y)
        return orig(self, t, y)

    monkeypatch.setattr(DenseField, "forward", slow)
    slowed = P.measure(pairs, rounds=5, samples=5)
    assert slowed[0].max_abs_diff == 0.0  # same weights on both sides
    assert [r.key for r in P.gate(slowed, base)] == [slowed[0].key], P.table(slowed, base)


def test_peer_gate_fails_a_faster_but_wrong_solver(monkeypatch):
    pairs = [(C.Case.from_id(EULER_FWD), C.Case("torchdiffeq.euler", "dense"))]
    orig = ExplicitRK.integrate_fixed

    def off(self, *args, **kwargs):
        y, nfe = orig(self, *args, **kwargs)
        return y + 1e-2, nfe

    monkeypatch.setattr(ExplicitRK, "integrate_fixed", off)
    rows = P.measure(pairs, rounds=3, samples=3)
    assert P.wrong(rows[0]) and rows[0].max_abs_diff > P.OUTPUT_TOL
    # flagged even against a baseline that any speed would pass
    assert P.gate(rows, {rows[0].key: 1e9}) == rows
    assert "WRONG OUTPUT" in P.table(rows)


def _loop_pairs(method="rk4"):
    return [(C.Case(method, "dense"), C.Case(C.LOOP_OF[method], "dense"))]


def _tripled(orig):
    def integrate_fixed(self, *args, **kwargs):
        if self.name == "rk4":
            orig(self, *args, **kwargs)  # the same work twice more, results discarded
            orig(self, *args, **kwargs)
        return orig(self, *args, **kwargs)

    return integrate_fixed


def test_overhead_gate_flags_a_slowed_solver_and_passes_unchanged(monkeypatch):
    rows = P.measure(_loop_pairs(), rounds=5, samples=5)
    assert rows[0].same_table and rows[0].max_abs_diff <= 1e-6
    assert P.overhead_gate(rows) == [], P.table(rows, target=P.OVERHEAD_TARGET)
    monkeypatch.setattr(ExplicitRK, "integrate_fixed", _tripled(ExplicitRK.integrate_fixed))
    slowed = P.measure(_loop_pairs(), rounds=5, samples=5)
    assert slowed[0].ratio > 2 * rows[0].ratio
    assert P.overhead_gate(slowed) == slowed, P.table(slowed, target=P.OVERHEAD_TARGET)
    assert "OVER TARGET" in P.table(slowed, target=P.OVERHEAD_TARGET)


def test_overhead_gate_fails_a_wrong_output(monkeypatch):
    orig = ExplicitRK.integrate_fixed

    def off(self, *args, **kwargs):
        y, nfe = orig(self, *args, **kwargs)
        return y + 1e-2, nfe

    monkeypatch.setattr(ExplicitRK, "integrate_fixed", off)
    rows = P.measure(_loop_pairs("euler"), rounds=3, samples=3)
    assert P.wrong(rows[0]) and rows[0].max_abs_diff > P.OUTPUT_TOL
    assert P.overhead_gate(rows, target=1e9) == rows  # however fast
    assert "WRONG OUTPUT" in P.table(rows, target=P.OVERHEAD_TARGET)


def _row(a, b, ratio, diff=0.0):
    return P.PeerRow(a.integrator, b.integrator, a.problem, a.size, a.pass_, 1.0, 1.0, ratio,
                     ratio, ratio, True, diff, 8, 8)


@pytest.mark.parametrize(
    "loop_ratio, loop_diff, code, message",
    [(1.1, 0.0, 0, ""), (2.0, 0.0, 1, "exceeds 1.6"), (1.1, 1e-2, 1, "differs from the loop")],
)
def test_peers_command_gates_the_overhead(monkeypatch, capsys, loop_ratio, loop_diff, code,
                                          message):
    """`nnde bench peers --baseline` exits 1 when ours ÷ loop is over target or an output
    is wrong, and 0 otherwise (the measurement is replaced by fixed rows)."""
    from nnde.cli import main

    base = P.load_baseline(ROOT / P.BASELINE)

    def fake(pairs, **kw):
        rows = []
        for a, b in pairs:
            if C.is_loop(b.integrator):
                rows.append(_row(a, b, loop_ratio, loop_diff))
            else:
                r = _row(a, b, 1.0, 0.0)
                r.ratio = base[r.key]
                rows.append(r)
        return rows

    monkeypatch.setattr(P, "measure", fake)
    try:
        rc = main(["bench", "peers", "--baseline", str(ROOT / P.BASELINE)])
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    assert rc == code, out.out + out.err
    assert "ours ÷ hand-written loop" in out.out and "loop.rk4" in out.out
    if message:
        assert message in out.err


def test_committed_peer_baseline_covers_the_gate_pairs():
    base = P.load_baseline(ROOT / P.BASELINE)
    keys = {
        P.PeerRow(
            a.integrator, b.integrator, a.problem, a.size, a.pass_, 0, 0, 0, 0, 0, False, None, 0, 0
        ).key
        for a, b in C.peer_pairs(problems=P.GATE_PROBLEMS)
    }
    assert keys <= set(base)
    assert all(0 < v < 10 for v in base.values())


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout


def _gate(repo, base):
    cmd = [
        sys.executable,
        "-m",
        "nnde.cli",
        "bench",
        "compare",
        "--root",
        str(repo),
        "--base",
        base,
        "--case",
        RK4_FWD,
        "--case",
        EULER_FWD,
        "--pairs",
        "7",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A throwaway clone of HEAD (the repository itself is never committed to)."""
    repo = tmp_path_factory.mktemp("gate") / "repo"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(repo)], check=True)
    for k, v in (("user.name", "gate test"), ("user.email", "gate@example.invalid")):
        _git(repo, "config", k, v)
    return repo


def test_compare_gate_flags_a_doubled_step_commit(clone):
    src = clone / "src/nnde/integrators/explicit.py"
    text = src.read_text()
    loop = "                ks[i] = fn(times[idx], yi)\n"
    assert loop in text, "the RK loop changed; update this test's slowdown"
    slowed = text.replace(
        loop,
        loop + '                if self.name == "rk4":  # doubled work\n'
        "                    ks[i] = fn(times[idx], yi)\n",
    )
    src.write_text(slowed)
    _git(clone, "commit", "-qam", "throwaway: rk4 evaluates every stage twice")
    try:
        res = _gate(clone, "HEAD~1")
        assert res.returncode == 1, res.stdout + res.stderr
        lines = {
            ln.split()[0]: ln
            for ln in res.stdout.splitlines()
            if ln.endswith(")") or ln.endswith("ok")
        }
        assert "SLOWER" in lines[RK4_FWD] and lines[EULER_FWD].endswith("ok"), res.stdout
    finally:
        _git(clone, "reset", "-q", "--hard", "HEAD~1")


def test_compare_gate_passes_an_unchanged_tree_5_of_5(clone):
    codes = []
    for _ in range(5):
        res = _gate(clone, "HEAD")
        codes.append(res.returncode)
        assert res.returncode in (0, 1), res.stderr
        if res.returncode:
            print(res.stdout)
    assert codes == [0] * 5
