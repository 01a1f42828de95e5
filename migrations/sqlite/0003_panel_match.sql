-- Published panels that were matched (from `emtrace match` now, from extracted
-- figures later), and the acquisitions they were found to come from.
CREATE TABLE panel (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    fingerprint BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE panel_match (
    panel_id INTEGER NOT NULL REFERENCES panel (id),
    acquisition_id INTEGER NOT NULL REFERENCES acquisition (id),
    score REAL NOT NULL,
    r REAL NOT NULL,
    x0 REAL NOT NULL,
    y0 REAL NOT NULL,
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    scale REAL NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (panel_id, acquisition_id)
);
