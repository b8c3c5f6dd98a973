#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306, root, empty password) and Redis (127.0.0.1:6379)
# answer, and SoftHSM2 is installed, before the suite runs: starts them if they are installed but stopped, installs
# them from Debian's packages if they are missing, and otherwise fails saying how to fix it.
# The integration tests never skip: a missing service is an error, not a pass.
set -u
MYSQL_HOST=${CTLOG_TEST_MYSQL_HOST:-127.0.0.1}
REDIS_PORT=${CTLOG_TEST_REDIS_PORT:-6379}

mariadb_up() { mysqladmin --protocol=tcp -h "$MYSQL_HOST" -uroot ping >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

install_pkgs() {
  echo "ensure-services: installing $* from Debian's packages" >&2
  as_root apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}

wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }

if ! mariadb_up; then
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || install_pkgs mariadb-server mariadb-client
  if [ -x /usr/sbin/mariadbd ]; then
    echo "ensure-services: starting MariaDB" >&2
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_for mariadb_up
  fi
fi
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || install_pkgs redis-server
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    wait_for redis_up
  fi
fi
# SoftHSM2: the PKCS#11 token the HSM tests and bench sign with (each in its own temporary
# token directory; nothing is started).
softhsm_ok() { command -v softhsm2-util >/dev/null 2>&1 && ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so >/dev/null 2>&1; }
softhsm_ok || install_pkgs softhsm2
# nginx: the load balancer in front of several read servers (test/read/load-balancer.test.ts).
command -v nginx >/dev/null 2>&1 || install_pkgs nginx-light

ok=0
mariadb_up || { ok=1; echo "ensure-services: MariaDB does not answer on $MYSQL_HOST:3306 as root with an empty password. Install it (apt-get install mariadb-server) and start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql" >&2; }
redis_up || { ok=1; echo "ensure-services: Redis does not answer on 127.0.0.1:$REDIS_PORT. Install it (apt-get install redis-server) and start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no" >&2; }
softhsm_ok || { ok=1; echo "ensure-services: SoftHSM2 is not installed (softhsm2-util, libsofthsm2.so). Install it: apt-get update && apt-get install -y softhsm2" >&2; }
command -v nginx >/dev/null 2>&1 || { ok=1; echo "ensure-services: nginx is not installed. Install it: apt-get update && apt-get install -y nginx-light" >&2; }
exit $ok
