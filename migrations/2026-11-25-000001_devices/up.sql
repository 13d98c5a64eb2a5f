-- Registered trackers and the vehicles they ride in.
CREATE TABLE vehicles (
    id BIGINT PRIMARY KEY,
    registration TEXT NOT NULL UNIQUE,
    vehicle_type TEXT NOT NULL DEFAULT 'bus',
    make TEXT,
    model TEXT,
    year INTEGER,
    capacity INTEGER
);

CREATE TABLE devices (
    id BIGINT PRIMARY KEY,
    imei TEXT NOT NULL UNIQUE,
    name TEXT,
    model TEXT NOT NULL,
    vehicle_id BIGINT REFERENCES vehicles (id),
    online BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen TIMESTAMP,
    firmware TEXT
);
