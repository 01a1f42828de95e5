-- One fingerprint per acquisition (see src/fingerprint): versioned bytes.
CREATE TABLE fingerprint (
    acquisition_id INTEGER PRIMARY KEY REFERENCES acquisition (id),
    version INTEGER NOT NULL,
    quality REAL NOT NULL,
    keypoints INTEGER NOT NULL,
    data BLOB NOT NULL
);
