-- segbench results store. Only segbench.store writes it, one transaction per shard.
PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS suites (
    name        TEXT PRIMARY KEY,
    path        TEXT,
    yaml        TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

-- Which jobs/conditions the latest definition of a suite contains (a job may serve several suites).
CREATE TABLE IF NOT EXISTS suite_jobs (
    suite        TEXT NOT NULL REFERENCES suites(name) ON DELETE CASCADE,
    job_key      TEXT NOT NULL,
    model_label  TEXT NOT NULL,
    PRIMARY KEY (suite, job_key, model_label)
);
CREATE TABLE IF NOT EXISTS suite_conditions (
    suite     TEXT NOT NULL REFERENCES suites(name) ON DELETE CASCADE,
    cond_key  TEXT NOT NULL,
    PRIMARY KEY (suite, cond_key)
);

CREATE TABLE IF NOT EXISTS jobs (
    job_key         TEXT PRIMARY KEY,
    model           TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    complexity      REAL,
    patch           TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    data_seed       INTEGER NOT NULL,
    config          TEXT NOT NULL,      -- the job's full spec as JSON
    status          TEXT NOT NULL CHECK (status IN ('trained', 'failed')),
    error           TEXT,               -- traceback of the latest failed attempt
    attempts        INTEGER NOT NULL DEFAULT 0,
    n_params        INTEGER,
    best_epoch      INTEGER,
    best_val_dice   REAL,
    train_seconds   REAL,
    peak_memory_mb  REAL,
    train_info      TEXT,               -- history, crop FBR, patch size (JSON)
    provenance      TEXT,               -- versions, commit, device, host (JSON)
    device          TEXT,
    started_at      REAL,
    finished_at     REAL
);

CREATE TABLE IF NOT EXISTS conditions (
    cond_key         TEXT PRIMARY KEY,
    job_key          TEXT NOT NULL REFERENCES jobs(job_key),
    perturbation     TEXT NOT NULL,
    severity         INTEGER NOT NULL,
    test_complexity  REAL,
    preset           TEXT,
    test_params      TEXT,              -- JSON of test-only dataset params (dataset shifts)
    eval_seconds     REAL,
    evaluated_at     REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS cases (
    cond_key             TEXT NOT NULL REFERENCES conditions(cond_key),
    case_id              TEXT NOT NULL,
    dice                 REAL,
    hd95                 REAL,
    nsd                  REAL,
    tp                   INTEGER,
    fp                   INTEGER,
    fn                   INTEGER,
    n_ref                INTEGER,
    n_pred               INTEGER,
    complexity_kl        REAL,
    fbr                  REAL,
    entropy              REAL,
    disagreement         REAL,
    tta_variance         REAL,
    meta                 TEXT,
    perturbation_params  TEXT,
    PRIMARY KEY (cond_key, case_id)
);

CREATE TABLE IF NOT EXISTS failures (
    id          INTEGER PRIMARY KEY,
    job_key     TEXT NOT NULL,
    attempt_id  TEXT NOT NULL,
    error       TEXT NOT NULL,
    at          REAL NOT NULL
);

-- Makes ingestion idempotent: a shard re-read after a crash is skipped.
CREATE TABLE IF NOT EXISTS ingested (
    attempt_id  TEXT PRIMARY KEY,
    job_key     TEXT NOT NULL,
    at          REAL NOT NULL
);
