"""Runs ehm and Splink side by side on every data set under DATA and prints one table
(markdown) plus the reliability tables. Usage: compare.py EHM_BINARY DATA OUT [SET ...]"""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import evaluate  # noqa: E402
import run_ehm  # noqa: E402

SETS = ["febrl1", "febrl2", "febrl3", "febrl4", "referrals", "referrals5k"]


# Each system is timed this many times per set and its median wall time reported.
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def splink(data, out):
    here = Path(__file__).parent
    walls = []
    for _ in range(REPEAT):
        r = subprocess.run([sys.executable, str(here / "run_splink.py"), str(data), str(out)],
                           check=True, capture_output=True, text=True)
        walls.append(float(r.stdout.strip().splitlines()[-1]))
    truth, twins = evaluate.load_truth(data / "truth.csv")
    s = evaluate.score(evaluate.load_predictions(out / "splink_all.csv"), truth, twins)
    s["wall"] = sorted(walls)[len(walls) // 2]
    s["walls"] = walls
    return s


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    binary, data, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    sets = sys.argv[4:] or SETS
    rows, tables, loads = [], [], []
    for name in sets:
        before = load()
        e = run_ehm.run(binary, data / name, out / name, repeat=REPEAT)
        s = splink(data / name, out / name)
        loads.append(f"{name}: load {before} -> {load()}; ehm runs "
                     + ", ".join(f"{w:.2f}" for w in e["walls"]) + " s; splink runs "
                     + ", ".join(f"{w:.2f}" for w in s["walls"]) + " s")
        for who, r in (("ehm", e), ("splink", s)):
            rows.append(
                f"| {name} | {who} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.4f} | "
                f"{r['best_f1']:.4f} ({r['best_threshold']:.3f}) | {r['pairs_completeness']:.4f} | "
                f"{r['ece']:.4f} | {r['twins_merged']} | {r['wall']:.2f} s |")
            tables.append((name, who, r["reliability"]))
        rows.append(f"| {name} | speed-up | | | | | | | | {s['wall'] / e['wall']:.1f}x |")
        print(rows[-3], rows[-2], rows[-1], sep="\n", file=sys.stderr, flush=True)
    print("| set | system | P @0.5 | R @0.5 | F1 @0.5 | best F1 (threshold) | pairs completeness | ECE | twins merged | wall time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print(f"Wall times: median of {REPEAT} runs each (load average before -> after each set)")
    for line in loads:
        print(f"* {line}")
    print()
    print("Reliability (bins of the scores >= 0.01: count, mean score, observed match rate)")
    for name, who, t in tables:
        cells = "; ".join(f"[{lo:.1f},{hi:.1f}) n={c} {ms:.3f}/{obs:.3f}" for lo, hi, c, ms, obs in t)
        print(f"* {name} {who}: {cells}")


if __name__ == "__main__":
    main()
