-- Discovered works (one per DOI, or per normalised title and year), why each
-- was found, where open copies live, and each source query's high-water mark.
CREATE TABLE work (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    doi TEXT UNIQUE,
    title TEXT,
    year INTEGER,
    journal TEXT,
    authors TEXT NOT NULL,
    kind TEXT,
    oa_checked_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id INTEGER NOT NULL REFERENCES work (id),
    source TEXT NOT NULL,
    query TEXT NOT NULL,
    snippet TEXT,
    found_at TEXT NOT NULL,
    UNIQUE (work_id, source, query)
);
CREATE TABLE work_location (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id INTEGER NOT NULL REFERENCES work (id),
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    license TEXT,
    version TEXT,
    content_type TEXT,
    found_at TEXT NOT NULL,
    UNIQUE (work_id, url)
);
CREATE TABLE discover_mark (
    source TEXT NOT NULL,
    query TEXT NOT NULL,
    high_water TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, query)
);
