-- Runs once, when the postgres volume is created: MLflow's database beside Dagster's.
CREATE DATABASE mlflow;
