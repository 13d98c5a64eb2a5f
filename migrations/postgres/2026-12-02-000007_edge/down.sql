DROP TABLE corroborated_detections;
DROP TABLE mqtt_dead_letters;
DROP TABLE system_logs;
DROP TABLE system_metrics;
DROP TABLE consensus_rounds;
DROP TABLE node_samples;
DROP TABLE detections;
DROP TABLE edge_nodes;
ALTER TABLE devices DROP COLUMN kind;
