// Diesel table definitions, valid for both backends (PostgreSQL and SQLite): times are
// BIGINT milliseconds since the epoch. Kept in step with `migrations/`.

diesel::table! {
    vehicles (id) {
        id -> BigInt,
        registration -> Text,
        vehicle_type -> Text,
        make -> Nullable<Text>,
        model -> Nullable<Text>,
        year -> Nullable<Integer>,
        capacity -> Nullable<Integer>,
        group_name -> Nullable<Text>,
    }
}

diesel::table! {
    devices (id) {
        id -> BigInt,
        imei -> Text,
        name -> Nullable<Text>,
        model -> Text,
        vehicle_id -> Nullable<BigInt>,
        online -> Bool,
        last_seen_ms -> Nullable<BigInt>,
        firmware -> Nullable<Text>,
        kind -> Text,
    }
}

diesel::table! {
    telemetry (device_id, device_time_ms) {
        device_id -> BigInt,
        device_time_ms -> BigInt,
        server_time_ms -> BigInt,
        lat -> Double,
        lon -> Double,
        altitude -> Integer,
        speed_kmh -> Integer,
        heading -> Integer,
        satellites -> Integer,
        fix -> Bool,
        hdop -> Nullable<Double>,
        ignition -> Nullable<Bool>,
        movement -> Nullable<Bool>,
        external_voltage_v -> Nullable<Double>,
        battery_voltage_v -> Nullable<Double>,
        gsm_signal -> Nullable<Integer>,
        distance_m -> Double,
        late -> Bool,
        io -> Text,
    }
}

diesel::joinable!(devices -> vehicles (vehicle_id));

diesel::table! {
    events (id) {
        id -> BigInt,
        device_id -> BigInt,
        time_ms -> BigInt,
        kind -> Text,
        data -> Text,
        subject -> Text,
    }
}

diesel::table! {
    can_data (device_id, device_time_ms) {
        device_id -> BigInt,
        device_time_ms -> BigInt,
        engine_rpm -> Nullable<Integer>,
        engine_hours_h -> Nullable<Double>,
        coolant_temp_c -> Nullable<Double>,
        engine_load_pct -> Nullable<Double>,
        fuel_level_l -> Nullable<Double>,
        fuel_level_pct -> Nullable<Double>,
        fuel_used_l -> Nullable<Double>,
        fuel_rate_lph -> Nullable<Double>,
        vehicle_speed_kmh -> Nullable<Double>,
        odometer_m -> Nullable<Double>,
        accelerator_pct -> Nullable<Double>,
        dtc_codes -> Nullable<Text>,
        doors -> Nullable<Integer>,
        brake_active -> Nullable<Bool>,
        cruise_control -> Nullable<Bool>,
        check_engine -> Nullable<Bool>,
        door1_open -> Nullable<Bool>,
        door2_open -> Nullable<Bool>,
        door3_open -> Nullable<Bool>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_ms -> BigInt,
        password_changed_ms -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        family -> Text,
        token_hash -> Text,
        created_ms -> BigInt,
        expires_ms -> BigInt,
        rotated_ms -> Nullable<BigInt>,
        revoked_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        role -> Text,
        created_ms -> BigInt,
        created_by -> Text,
        last_used_ms -> Nullable<BigInt>,
        revoked_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        time_ms -> BigInt,
        actor -> Text,
        actor_kind -> Text,
        action -> Text,
        resource -> Text,
        status -> Integer,
        ip -> Nullable<Text>,
        request_id -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, refresh_tokens);

diesel::table! {
    geofences (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        geometry -> Text,
        radius_m -> Nullable<Double>,
        width_m -> Nullable<Double>,
        hysteresis_m -> Double,
        speed_limit_kmh -> Nullable<Double>,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    notification_channels (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        target -> Text,
        secret -> Nullable<Text>,
        enabled -> Bool,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        params -> Text,
        vehicle_ids -> Text,
        groups -> Text,
        severity -> Text,
        cooldown_s -> BigInt,
        channel_ids -> Text,
        enabled -> Bool,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        rule_id -> BigInt,
        kind -> Text,
        severity -> Text,
        status -> Text,
        device_id -> BigInt,
        vehicle_id -> Nullable<BigInt>,
        subject -> Text,
        message -> Text,
        details -> Text,
        late -> Bool,
        occurrences -> Integer,
        raised_ms -> BigInt,
        last_ms -> BigInt,
        acknowledged_ms -> Nullable<BigInt>,
        acknowledged_by -> Nullable<Text>,
        cleared_ms -> Nullable<BigInt>,
        cleared_by -> Nullable<Text>,
        created_ms -> BigInt,
    }
}

diesel::table! {
    notification_dead_letters (id) {
        id -> BigInt,
        channel_id -> BigInt,
        alert_id -> Text,
        payload -> Text,
        attempts -> Integer,
        last_error -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    device_commands (id) {
        id -> BigInt,
        device_id -> BigInt,
        command -> Text,
        status -> Text,
        response -> Nullable<Text>,
        error -> Nullable<Text>,
        created_by -> Text,
        created_ms -> BigInt,
        sent_ms -> Nullable<BigInt>,
        answered_ms -> Nullable<BigInt>,
        expires_ms -> BigInt,
        idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    trips (device_id, start_ms) {
        device_id -> BigInt,
        vehicle_id -> Nullable<BigInt>,
        start_ms -> BigInt,
        end_ms -> BigInt,
        distance_m -> Double,
        duration_s -> BigInt,
        max_speed_kmh -> Double,
        idle_s -> Double,
        fuel_used_l -> Nullable<Double>,
        start_lat -> Nullable<Double>,
        start_lon -> Nullable<Double>,
        end_lat -> Nullable<Double>,
        end_lon -> Nullable<Double>,
    }
}

diesel::table! {
    vehicle_stops (device_id, start_ms) {
        device_id -> BigInt,
        vehicle_id -> Nullable<BigInt>,
        start_ms -> BigInt,
        end_ms -> BigInt,
        duration_s -> BigInt,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
    }
}

diesel::table! {
    routes (id) {
        id -> BigInt,
        number -> Text,
        name -> Text,
        colour -> Text,
        active -> Bool,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    stops (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        lat -> Double,
        lon -> Double,
        radius_m -> Double,
        shelter -> Bool,
        display -> Bool,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    route_stops (route_id, seq) {
        route_id -> BigInt,
        seq -> Integer,
        stop_id -> BigInt,
        offset_s -> Integer,
    }
}

diesel::table! {
    route_schedules (id) {
        id -> BigInt,
        route_id -> BigInt,
        departure_s -> Integer,
        days -> Integer,
    }
}

diesel::table! {
    route_assignments (vehicle_id) {
        vehicle_id -> BigInt,
        route_id -> BigInt,
        assigned_ms -> BigInt,
    }
}

diesel::table! {
    stop_arrivals (device_id, arrived_ms, stop_id) {
        device_id -> BigInt,
        vehicle_id -> Nullable<BigInt>,
        route_id -> BigInt,
        stop_id -> BigInt,
        seq -> Integer,
        arrived_ms -> BigInt,
        departed_ms -> Nullable<BigInt>,
        dwell_s -> Nullable<Double>,
    }
}

diesel::joinable!(trips -> devices (device_id));
diesel::joinable!(vehicle_stops -> devices (device_id));
diesel::joinable!(route_stops -> stops (stop_id));
diesel::allow_tables_to_appear_in_same_query!(
    trips,
    devices,
    vehicle_stops,
    route_stops,
    stops,
    stop_arrivals,
    route_assignments
);

diesel::table! {
    edge_nodes (id) {
        id -> Text,
        device_id -> BigInt,
        name -> Text,
        status -> Text,
        location -> Nullable<Text>,
        cpu_usage -> Double,
        memory_usage -> Double,
        network_status -> Text,
        energy_consumption -> Double,
        ip_address -> Nullable<Text>,
        port -> Nullable<Integer>,
        capabilities -> Text,
        api_key_id -> Nullable<BigInt>,
        quarantined -> Bool,
        boot -> Nullable<BigInt>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        created_ms -> BigInt,
        updated_ms -> BigInt,
        last_heartbeat_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    detections (node_id, time_ms, boot, seq, idx) {
        node_id -> Text,
        time_ms -> BigInt,
        boot -> BigInt,
        seq -> BigInt,
        idx -> Integer,
        received_ms -> BigInt,
        stream_id -> Text,
        object_type -> Text,
        confidence -> Double,
        bbox_x -> Double,
        bbox_y -> Double,
        bbox_width -> Double,
        bbox_height -> Double,
        bbox_normalized -> Bool,
        location -> Nullable<Text>,
        metadata -> Text,
    }
}

diesel::table! {
    node_samples (node_id, kind, time_ms) {
        node_id -> Text,
        kind -> Text,
        time_ms -> BigInt,
        data -> Text,
    }
}

diesel::table! {
    consensus_rounds (id) {
        id -> BigInt,
        node_id -> Text,
        round_number -> BigInt,
        time_ms -> BigInt,
        success -> Nullable<Bool>,
        participants -> Nullable<Integer>,
        duration_ms -> Nullable<Integer>,
        votes -> Text,
        result -> Nullable<Text>,
        computed_result -> Nullable<Text>,
        agrees -> Nullable<Bool>,
    }
}

diesel::table! {
    system_metrics (time_ms) {
        time_ms -> BigInt,
        total_nodes -> Integer,
        active_nodes -> Integer,
        total_detections -> BigInt,
        average_latency -> Double,
        bandwidth_saved -> Double,
        energy_saved -> Double,
        metadata -> Text,
    }
}

diesel::table! {
    system_logs (id) {
        id -> BigInt,
        time_ms -> BigInt,
        level -> Text,
        source -> Text,
        message -> Text,
        details -> Text,
    }
}

diesel::table! {
    mqtt_dead_letters (id) {
        id -> BigInt,
        received_ms -> BigInt,
        topic -> Text,
        reason -> Text,
        detail -> Text,
        payload -> Binary,
    }
}

diesel::table! {
    corroborated_detections (id) {
        id -> BigInt,
        object_type -> Text,
        first_ms -> BigInt,
        time_ms -> BigInt,
        nodes -> Text,
    }
}

diesel::joinable!(edge_nodes -> devices (device_id));
diesel::allow_tables_to_appear_in_same_query!(edge_nodes, devices);

diesel::table! {
    modbus_buses (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        address -> Nullable<Text>,
        path -> Nullable<Text>,
        baud -> Integer,
        parity -> Text,
        stop_bits -> Integer,
        poll_hz -> Double,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    robots (id) {
        id -> BigInt,
        device_id -> Nullable<BigInt>,
        name -> Text,
        bus_id -> BigInt,
        unit_id -> Integer,
        map -> Text,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    robot_telemetry (robot_id, time_ms) {
        robot_id -> BigInt,
        time_ms -> BigInt,
        state -> Text,
        status_bits -> Integer,
        position_mm -> BigInt,
        speed_mm_s -> Integer,
        hoist_mm -> Integer,
        battery_pct -> Double,
        temperature_c -> Double,
        station -> Integer,
        target_station -> Integer,
        fault_code -> Integer,
        load_kg -> Double,
    }
}

diesel::table! {
    safety_events (id) {
        id -> BigInt,
        robot_id -> BigInt,
        time_ms -> BigInt,
        kind -> Text,
        active -> Bool,
        severity -> Text,
        detail -> Text,
    }
}

diesel::joinable!(robots -> modbus_buses (bus_id));
diesel::allow_tables_to_appear_in_same_query!(robots, modbus_buses);

diesel::table! {
    zones (id) {
        id -> BigInt,
        environment -> Text,
        name -> Text,
        kind -> Text,
        polygon -> Text,
        created_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    tracking_sessions (id) {
        id -> BigInt,
        environment -> Text,
        state -> Text,
        started_ms -> BigInt,
        ended_ms -> Nullable<BigInt>,
        started_by -> Text,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    person_identities (id) {
        id -> BigInt,
        session_id -> BigInt,
        global_id -> BigInt,
        first_seen_ms -> BigInt,
        last_seen_ms -> BigInt,
        cameras -> Text,
        distance_m -> Double,
        merged_into -> Nullable<BigInt>,
    }
}

diesel::table! {
    trajectory_points (session_id, global_id, time_ms) {
        session_id -> BigInt,
        global_id -> BigInt,
        time_ms -> BigInt,
        x_m -> Double,
        y_m -> Double,
        cameras -> Integer,
    }
}

diesel::table! {
    person_appearances (session_id, global_id) {
        session_id -> BigInt,
        global_id -> BigInt,
        vector -> Text,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    person_sightings (session_id, global_id, camera, first_ms) {
        session_id -> BigInt,
        global_id -> BigInt,
        camera -> Integer,
        first_ms -> BigInt,
        last_ms -> BigInt,
    }
}

diesel::table! {
    zone_events (session_id, global_id, zone_id, kind, time_ms) {
        session_id -> BigInt,
        global_id -> BigInt,
        zone_id -> BigInt,
        kind -> Text,
        time_ms -> BigInt,
        dwell_s -> Nullable<Double>,
    }
}

diesel::joinable!(person_identities -> tracking_sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(person_identities, tracking_sessions);

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        received_ms -> BigInt,
        source -> Text,
        subject -> Text,
        reason -> Text,
        detail -> Text,
        payload -> Text,
    }
}
