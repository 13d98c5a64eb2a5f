DROP TABLE safety_events;
DROP TABLE robot_telemetry;
DROP TABLE robots;
DROP TABLE modbus_buses;
