-- One fingerprint per acquisition (see src/fingerprint): versioned bytes.
CREATE TABLE fingerprint (
    acquisition_id BIGINT PRIMARY KEY REFERENCES acquisition (id),
    version BIGINT NOT NULL,
    quality DOUBLE PRECISION NOT NULL,
    keypoints BIGINT NOT NULL,
    data BYTEA NOT NULL
);
