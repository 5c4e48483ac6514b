"""Scores (query_id, person_id, score) predictions against truth.csv.

Used by run_matching_comparison.py for both ehm and Splink, so both are measured the
same way:
* P/R/F1 at a threshold: over (query, person) pairs with score >= threshold; a true
  pair is (query_id, person_id) from truth.csv.
* best F1: the best of P/R/F1 over every distinct score threshold.
* pairs completeness: share of queries with a true record whose true record is among
  the scored candidate pairs at all (blocking recall).
* ECE: expected calibration error over every scored pair with score >= 0.01 (pairs
  below that carry no claim either way), 10 equal-width bins, weighted by bin size;
  the reliability table lists each bin's count, mean score and observed match rate.
* twins merged: queries whose twin (twin_id in truth.csv) is returned at >= threshold.
"""

import csv
from collections import defaultdict


def load_truth(path):
    truth, twins = {}, {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            truth[r["query_id"]] = r["person_id"] or None
            twins[r["query_id"]] = r.get("twin_id") or None
    return truth, twins


def load_predictions(path):
    """ehm's output CSV: query_id,person_id,score (extra columns ignored)."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.append((r["query_id"], r["person_id"], float(r["score"])))
    return out


def prf(preds, truth, threshold):
    positives = sum(1 for v in truth.values() if v)
    sel = [(q, p) for q, p, s in preds if s >= threshold]
    tp = sum(1 for q, p in sel if truth.get(q) == p)
    precision = tp / len(sel) if sel else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1


def best_f1(preds, truth):
    positives = sum(1 for v in truth.values() if v)
    ps = sorted(preds, key=lambda x: -x[2])
    tp = fp = 0
    best = (0.0, 1.0)
    i = 0
    while i < len(ps):
        s = ps[i][2]
        while i < len(ps) and ps[i][2] == s:
            if truth.get(ps[i][0]) == ps[i][1]:
                tp += 1
            else:
                fp += 1
            i += 1
        if tp:
            p, r = tp / (tp + fp), tp / positives
            f1 = 2 * p * r / (p + r)
            if f1 > best[0]:
                best = (f1, s)
    return best


def pairs_completeness(preds, truth):
    found = {(q, p) for q, p, _ in preds}
    with_match = [(q, p) for q, p in truth.items() if p]
    hit = sum(1 for qp in with_match if qp in found)
    return hit / len(with_match) if with_match else 1.0, len(with_match) - hit


def calibration(preds, truth, bins=10, floor=0.01):
    b = defaultdict(lambda: [0, 0.0, 0])
    n = 0
    for q, p, s in preds:
        if s < floor:
            continue
        k = min(int(s * bins), bins - 1)
        b[k][0] += 1
        b[k][1] += s
        b[k][2] += 1 if truth.get(q) == p else 0
        n += 1
    ece = 0.0
    table = []
    for k in range(bins):
        c, ssum, hits = b[k]
        if c:
            ece += c / n * abs(ssum / c - hits / c)
            table.append((k / bins, (k + 1) / bins, c, ssum / c, hits / c))
    return ece, table


def twins_merged(preds, twins, threshold):
    return sum(1 for q, p, s in preds if s >= threshold and twins.get(q) == p)


def score(preds, truth, twins, threshold=0.5):
    p, r, f1 = prf(preds, truth, threshold)
    bf, bt = best_f1(preds, truth)
    pc, missed = pairs_completeness(preds, truth)
    ece, table = calibration(preds, truth)
    return {
        "precision": p, "recall": r, "f1": f1, "best_f1": bf, "best_threshold": bt,
        "pairs_completeness": pc, "blocking_missed": missed, "ece": ece,
        "reliability": table, "twins_merged": twins_merged(preds, twins, threshold),
    }
