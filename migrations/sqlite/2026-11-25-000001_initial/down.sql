DROP TABLE can_data;
DROP TABLE events;
DROP TABLE telemetry;
DROP TABLE devices;
DROP TABLE vehicles;
