#!/bin/sh
# Put the team dagster.yaml into DAGSTER_HOME (on the shared data volume), then run the command.
set -e
mkdir -p "$DAGSTER_HOME"
cp /opt/fma-pipeline/deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
exec "$@"
