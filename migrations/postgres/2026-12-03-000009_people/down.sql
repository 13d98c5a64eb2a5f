DROP TABLE zone_events;
DROP TABLE person_sightings;
DROP TABLE trajectory_points;
DROP TABLE person_identities;
DROP TABLE tracking_sessions;
DROP TABLE zones;
