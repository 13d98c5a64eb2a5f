-- An identity's learnt appearance (a unit vector: the node's embedding or the colour
-- histogram of its clear views), kept only where `cameras.record.appearance` is on, for
-- finding the same person again by how they look. No image.
CREATE TABLE person_appearances (
    session_id BIGINT NOT NULL,
    global_id BIGINT NOT NULL,
    -- JSON array of numbers.
    vector TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (session_id, global_id)
);
CREATE INDEX person_appearances_updated ON person_appearances (updated_ms);
