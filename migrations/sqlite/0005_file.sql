-- Files of discovered works (article PDFs and supplements), each with the
-- route that named it and what became of it; blobs live on disk by hash.
CREATE TABLE file (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id INTEGER NOT NULL REFERENCES work (id),
    role TEXT NOT NULL,
    url TEXT NOT NULL,
    route TEXT NOT NULL,
    state TEXT NOT NULL,
    blob TEXT,
    bytes INTEGER,
    content_type TEXT,
    etag TEXT,
    last_modified TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (work_id, url)
);
CREATE INDEX file_state ON file (state);
-- When the acquire stage last looked for a work's files, and what went wrong.
ALTER TABLE work ADD COLUMN resolved_at TEXT;
ALTER TABLE work ADD COLUMN resolve_notes TEXT;
