#!/bin/sh
# Migrations first, then whatever the container was asked to run (the API by default).
set -eu
sigurna db upgrade
exec "$@"
