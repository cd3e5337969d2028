-- Tailor's registry schema: the single source of truth, applied by assistant/registry/db.py through
-- sqlite-utils. Bump `user_version` and add a numbered migration there when this changes.
PRAGMA user_version = 4;

CREATE TABLE IF NOT EXISTS base_models (
    name        TEXT PRIMARY KEY,          -- display name, e.g. SmolLM2-135M-Instruct
    source      TEXT NOT NULL,             -- hub id or local folder
    params_b    REAL,
    created     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS datasets (
    sha256      TEXT PRIMARY KEY,          -- of the file's bytes
    path        TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    format      TEXT NOT NULL,
    mapping     TEXT NOT NULL DEFAULT '{}',-- JSON: input_columns, output_column
    created     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS plans (
    id          INTEGER PRIMARY KEY,
    json        TEXT NOT NULL,             -- the Plan, as docs/plan-schema.md describes
    conversation TEXT NOT NULL DEFAULT '[]', -- JSON list of the user's turns that produced it
    created     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY,
    plan_id     INTEGER NOT NULL REFERENCES plans(id),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    pid         INTEGER,                   -- the worker process while running
    created     TEXT NOT NULL,
    started     TEXT,
    finished    TEXT,
    step        INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER,
    error       TEXT,                      -- plain-words reason of a failure
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    adapter_id  INTEGER REFERENCES adapters(id),
    failure     TEXT,                      -- v3: the kind of failure: out_of_memory | bad_data | missing_model | worker_died | error
    sweep_id    INTEGER REFERENCES sweeps(id), -- v4: the sweep this job is a trial of (null: an ordinary job)
    trial       INTEGER,                   -- v4: its number in the sweep (1-based)
    trial_settings TEXT,                   -- v4: JSON: the trial's settings, field path → value
    result      TEXT                       -- v4: JSON: a trial's final metrics (a trial registers no adapter itself)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);

-- v4: a sweep: trials of one plan (jobs with this sweep_id); held-out results choose the adapter registered.
CREATE TABLE IF NOT EXISTS sweeps (
    id          INTEGER PRIMARY KEY,
    plan_id     INTEGER NOT NULL REFERENCES plans(id), -- the plan with its `sweep` part
    status      TEXT NOT NULL CHECK (status IN ('running', 'settling', 'succeeded', 'failed', 'cancelled')),
    metric      TEXT NOT NULL,             -- what picks the winner
    settler_pid INTEGER,                   -- the process registering the winner while status is settling
    winner_job_id INTEGER REFERENCES jobs(id),
    adapter_id  INTEGER REFERENCES adapters(id),
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created     TEXT NOT NULL,
    finished    TEXT
);

CREATE TABLE IF NOT EXISTS job_metrics (
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    epoch       REAL,
    loss        REAL,
    eval_loss   REAL,
    learning_rate REAL,
    tokens_per_second REAL,
    peak_memory_gb REAL,
    eta_seconds REAL,
    time        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_metrics_job ON job_metrics(job_id, step);

CREATE TABLE IF NOT EXISTS job_logs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    time        TEXT NOT NULL,
    line        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS adapters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    task        TEXT,
    base_model  TEXT NOT NULL,             -- base model name
    base_source TEXT NOT NULL,             -- what was loaded: hub id or folder
    path        TEXT NOT NULL,             -- folder relative to the data home: adapters/<name>/<version>
    weights_sha256 TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    plan_id     INTEGER REFERENCES plans(id),
    dataset_sha256 TEXT REFERENCES datasets(sha256),
    job_id      INTEGER REFERENCES jobs(id),
    metrics     TEXT NOT NULL DEFAULT '{}',-- JSON of final metrics
    library_versions TEXT NOT NULL DEFAULT '{}',
    parent_id   INTEGER REFERENCES adapters(id),
    status      TEXT NOT NULL DEFAULT 'ready', -- ready | missing | corrupt (set by `tailor adapters check`)
    created     TEXT NOT NULL,
    base_revision TEXT,                    -- v2: the base model's revision (commit or weights sha256) when known
    origin      TEXT NOT NULL DEFAULT 'trained', -- v2: trained | imported
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS adapters_task ON adapters(task);
CREATE INDEX IF NOT EXISTS adapters_base ON adapters(base_model);
CREATE INDEX IF NOT EXISTS adapters_sha ON adapters(weights_sha256);

-- v2: full-text search over names, descriptions, task, base model and tags; rowid = adapters.id.
CREATE VIRTUAL TABLE IF NOT EXISTS adapter_search USING fts5(name, description, task, base_model, tags,
    tokenize = 'unicode61 remove_diacritics 2');

-- v2: who is using an adapter right now (a serving engine); delete and rename refuse while a live one holds it.
CREATE TABLE IF NOT EXISTS adapter_leases (
    adapter_id  INTEGER NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,             -- e.g. engine@<pid>
    pid         INTEGER NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (adapter_id, holder)
);

CREATE TABLE IF NOT EXISTS tags (
    adapter_id  INTEGER NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (adapter_id, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);

CREATE TABLE IF NOT EXISTS aliases (
    alias       TEXT PRIMARY KEY,          -- movable name, e.g. production
    adapter_id  INTEGER NOT NULL REFERENCES adapters(id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS eval_runs (
    id          INTEGER PRIMARY KEY,
    created     TEXT NOT NULL,
    eval_sha256 TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',-- generation settings and seed
    results     TEXT NOT NULL DEFAULT '{}' -- per model: metrics and confidence intervals
);

CREATE TABLE IF NOT EXISTS votes (
    id          INTEGER PRIMARY KEY,
    created     TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    model_a     TEXT NOT NULL,
    model_b     TEXT NOT NULL,
    winner      TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie', 'both_bad'))
);
