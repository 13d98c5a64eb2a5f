DROP TABLE stop_arrivals;
DROP TABLE route_assignments;
DROP TABLE route_schedules;
DROP TABLE route_stops;
DROP TABLE stops;
DROP TABLE routes;
DROP TABLE vehicle_stops;
DROP TABLE trips;
