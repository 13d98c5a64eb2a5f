// Diesel table definitions; kept in step with `migrations/` (target of diesel.toml).

diesel::table! {
    vehicles (id) {
        id -> BigInt,
        registration -> Text,
        vehicle_type -> Text,
        make -> Nullable<Text>,
        model -> Nullable<Text>,
        year -> Nullable<Integer>,
        capacity -> Nullable<Integer>,
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
        last_seen -> Nullable<Timestamp>,
        firmware -> Nullable<Text>,
    }
}

diesel::joinable!(devices -> vehicles (vehicle_id));
diesel::allow_tables_to_appear_in_same_query!(devices, vehicles);
