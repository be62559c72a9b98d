#!/bin/sh
# The official image's CMD is ./entrypoint.sh (WORKDIR /qdrant); here it starts the stand-in.
exec python /qdrant/qdrant_standin.py "$@"
