DROP TABLE person_appearances;
