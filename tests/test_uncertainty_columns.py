"""A results store made before per-case uncertainty existed gains the columns when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from segbench.store import Store
from segbench.store.db import DB_NAME


def test_old_store_gains_uncertainty_columns(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / DB_NAME)
    old.execute(
        "CREATE TABLE cases (cond_key TEXT NOT NULL, case_id TEXT NOT NULL, dice REAL, hd95 REAL, nsd REAL, "
        "tp INTEGER, fp INTEGER, fn INTEGER, n_ref INTEGER, n_pred INTEGER, complexity_kl REAL, fbr REAL, "
        "meta TEXT, perturbation_params TEXT, PRIMARY KEY (cond_key, case_id))"
    )
    old.execute("INSERT INTO cases (cond_key, case_id, dice) VALUES ('c', 'x', 0.5)")
    old.commit()
    old.close()
    with Store(tmp_path).connect() as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(cases)")}
        row = conn.execute("SELECT dice, entropy, disagreement, tta_variance FROM cases").fetchone()
    assert {"entropy", "disagreement", "tta_variance"} <= columns
    assert row == (0.5, None, None, None)  # old rows: not measured, never invented
