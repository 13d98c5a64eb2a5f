DROP VIEW telemetry;
DROP VIEW can_data;
INSERT OR IGNORE INTO telemetry_kept (device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io)
    SELECT device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io FROM telemetry_a WHERE device_id > (SELECT a_moved FROM history_staging)
    UNION ALL
    SELECT device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io FROM telemetry_b WHERE device_id > (SELECT b_moved FROM history_staging);
INSERT OR IGNORE INTO can_data_kept (device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open)
    SELECT device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open FROM can_data_a WHERE device_id > (SELECT a_moved FROM history_staging)
    UNION ALL
    SELECT device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, door1_open, door2_open, door3_open FROM can_data_b WHERE device_id > (SELECT b_moved FROM history_staging);
DROP TABLE telemetry_a;
DROP TABLE telemetry_b;
DROP TABLE can_data_a;
DROP TABLE can_data_b;
DROP TABLE history_staging;
ALTER TABLE telemetry_kept RENAME TO telemetry;
ALTER TABLE can_data_kept RENAME TO can_data;
