"""Run `ehm match` (the ehm_match example: the same run_match code) on one data set
and score it. Usage: run_ehm.py BIN DATA_DIR OUT_DIR [extra ehm flags...]"""

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import evaluate  # noqa: E402


def run(binary, data, out, extra=(), repeat=1):
    out.mkdir(parents=True, exist_ok=True)
    base = [str(binary), "--index", str(data / "index.csv"), "--queries", str(data / "queries.csv")]
    # Timed runs: defaults (threshold 0.5, top 5), as a user would run it; the median
    # wall time of `repeat` runs (the machine is shared, single runs are noisy).
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(base + ["--out", str(out / "matches.csv"), *extra], check=True,
                       stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
    wall = sorted(walls)[len(walls) // 2]
    # Every blocked candidate with its score: pairs completeness, best F1, calibration.
    subprocess.run(base + ["--out", str(out / "all.csv"), "--threshold", "0", "--top", "1000000", *extra],
                   check=True, stderr=subprocess.DEVNULL)
    truth, twins = evaluate.load_truth(data / "truth.csv")
    default = evaluate.load_predictions(out / "matches.csv")
    allp = evaluate.load_predictions(out / "all.csv")
    s = evaluate.score(allp, truth, twins)
    p, r, f1 = evaluate.prf(default, truth, 0.5)
    s.update(precision=p, recall=r, f1=f1, twins_merged=evaluate.twins_merged(default, twins, 0.5), wall=wall,
             walls=walls)
    return s


if __name__ == "__main__":
    s = run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
    print(f"{sys.argv[2]}: P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} | best F1 {s['best_f1']:.3f} @{s['best_threshold']:.3f} | PC {s['pairs_completeness']:.4f} (missed {s['blocking_missed']}) | ECE {s['ece']:.3f} | twins {s['twins_merged']} | {s['wall']:.2f} s")
