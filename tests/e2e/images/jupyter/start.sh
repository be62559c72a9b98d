#!/bin/bash
# Stand-in for the official image's start.sh: run the hooks in /usr/local/bin/start-notebook.d
# and before-notebook.d, then exec the command. Started as root (`user: root`), the official
# script adjusts the user (NB_UID, NB_GID, CHOWN_HOME...) and drops to it; this one only drops to
# NB_UID:NB_GID, and says that it ignores the rest.
set -e
run_hooks() {
  [ -d "$1" ] || return 0
  for f in "$1"/*; do
    case "$f" in
      *.sh) echo "start.sh: running $f"; source "$f" ;;
      *) [ -x "$f" ] && { echo "start.sh: running $f"; "$f"; } || true ;;
    esac
  done
}
run_hooks /usr/local/bin/start-notebook.d
if [ "$(id -u)" = 0 ]; then
  echo "start.sh (stand-in): dropping to ${NB_UID}:${NB_GID}; user changes of the official image are not done"
  run_hooks /usr/local/bin/before-notebook.d
  exec setpriv --reuid="${NB_UID}" --regid="${NB_GID}" --init-groups env HOME="/home/${NB_USER}" "$@"
fi
run_hooks /usr/local/bin/before-notebook.d
exec "$@"
