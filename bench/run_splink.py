"""The reference: Splink 5 with DuckDB, trained unsupervised (random-sampling u,
EM for m, deterministic rules for the prior), on one data set in ehm's CSV format.

Comparisons are the usual ones for people: Jaro-Winkler name comparisons (forename,
surname), Splink's DateOfBirthComparison, postcode (Splink's PostcodeComparison for
UK postcodes, Levenshtein for other codes), address (Jaro-Winkler), and sex where the
data has it. Writes OUT/splink_all.csv: query_id,person_id,score for every blocked
pair. Usage: run_splink.py DATA_DIR OUT_DIR  (prints the wall time in seconds)
"""

import logging
import re
import sys
import time
from pathlib import Path

import pandas as pd


def load(path, source):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df.replace({"": None})
    keep = ["id", "first_name", "last_name", "dob", "gender", "postcode", "address"]
    for c in keep:
        if c not in df.columns:
            df[c] = None
    df = df[keep].copy()
    for c in ("first_name", "last_name", "address"):
        df[c] = df[c].str.lower().str.strip()
    df["postcode"] = df["postcode"].str.upper().str.replace(" ", "", regex=False)
    # Dates as ISO text; FEBRL's YYYYMMDD (possibly impossible) is rewritten digit by digit.
    df["dob"] = df["dob"].map(lambda s: f"{s[0:4]}-{s[4:6]}-{s[6:8]}" if s and re.fullmatch(r"\d{8}", s) else s)
    df["source_dataset"] = source
    return df


def main():
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    index = load(data / "index.csv", "index")
    queries = load(data / "queries.csv", "queries")
    uk = index["postcode"].dropna().str.match(r"^[A-Z]{1,2}\d").mean() > 0.5
    comparisons = [
        cl.NameComparison("first_name"),
        cl.NameComparison("last_name"),
        cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
        cl.PostcodeComparison("postcode") if uk else cl.LevenshteinAtThresholds("postcode", [1]),
        cl.JaroWinklerAtThresholds("address", [0.9, 0.8]),
    ]
    if index["gender"].notna().any():
        comparisons.append(cl.ExactMatch("gender"))
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            block_on("first_name"),
            block_on("last_name"),
            block_on("dob"),
            block_on("postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    dfs = [db_api.register(index, dataset_display_name="index"), db_api.register(queries, dataset_display_name="queries")]
    linker = Linker(dfs, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pred = linker.inference.predict().as_pandas_dataframe()
    elapsed = time.perf_counter() - t0
    # Orient every pair as (query, index record).
    q_left = pred["source_dataset_l"] == "queries"
    res = pd.DataFrame({
        "query_id": pred["id_l"].where(q_left, pred["id_r"]),
        "person_id": pred["id_r"].where(q_left, pred["id_l"]),
        "score": pred["match_probability"],
    })
    res.to_csv(out / "splink_all.csv", index=False)
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    main()
