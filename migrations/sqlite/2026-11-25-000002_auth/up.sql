-- Who may use the API: users with a role, their refresh tokens, API keys for machine
-- clients, and the audit log of logins and changes. Secrets are stored only as hashes.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL,
    password_changed_ms BIGINT NOT NULL
);

-- One row per refresh token ever issued; a login starts a family, every refresh adds the
-- next token of it and marks the used one rotated. A rotated token used again revokes
-- the whole family.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    -- SHA-256 of the token, hex
    token_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    rotated_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- the key's first characters, shown in lists to tell keys apart
    prefix TEXT NOT NULL,
    -- SHA-256 of the whole key, hex
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms BIGINT NOT NULL,
    -- username, api key name, or what a failed login claimed
    actor TEXT NOT NULL,
    -- user | api_key | anonymous
    actor_kind TEXT NOT NULL,
    -- e.g. "POST /api/v1/devices", "login"
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    -- HTTP status of the call, or 200/401 for logins
    status INTEGER NOT NULL,
    ip TEXT,
    request_id TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_log_time ON audit_log (time_ms);
