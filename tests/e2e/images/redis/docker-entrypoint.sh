#!/bin/sh
# Stand-in for the official image's docker-entrypoint.sh. The official one starts as root,
# fixes /data's owner and drops to the redis user; this image already runs as redis, so only
# its first rule applies: arguments that start with an option or a .conf file go to redis-server.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
exec "$@"
