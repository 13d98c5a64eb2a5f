DROP TABLE devices;
DROP TABLE vehicles;
