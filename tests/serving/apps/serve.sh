#!/bin/sh
# A `serve` script as many images have one: prepare, then exec the server, so that gunicorn itself
# is the main child (a shell that stayed would hear SIGTERM and forward nothing).
cd "$(dirname "$0")"
exec gunicorn --bind "127.0.0.1:${SAGEMAKER_BIND_TO_PORT:-8080}" --workers "${MODEL_SERVER_WORKERS:-4}" \
    --graceful-timeout 10 app:wsgi
