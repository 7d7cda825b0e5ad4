#!/usr/bin/env bash
# Install the Debian packages Switchboard needs on this machine, only those missing.
#   redis-server: the embedded Redis `make run` and the tests start when REDIS_URL is unset.
#   postgresql (with --test): the tests run the contact records on PostgreSQL too; they start a
#   throwaway server of their own (initdb + pg_ctl), so no service is configured here.
#   redis-sentinel (with --test): the failover tests run a primary, a replica and 3 sentinels.
#   haproxy (with --test): the load balancer in front of the cluster test's two nodes.
#   chromium (with --test): Playwright drives it headless for the web chat browser test.
set -euo pipefail

needed=()
if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  needed+=(redis-server)
fi
if [ "${1:-}" = "--test" ] && [ -z "${TEST_POSTGRES_URL:-}" ] \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  needed+=(postgresql)
fi
if [ "${1:-}" = "--test" ] && ! command -v redis-sentinel >/dev/null 2>&1; then
  needed+=(redis-sentinel)  # the failover tests (tests/test_sentinel.py, tests/test_scale.py)
fi
if [ "${1:-}" = "--test" ] && ! command -v haproxy >/dev/null 2>&1; then
  needed+=(haproxy)  # the cluster test's load balancer (tests/test_scale.py)
fi
if [ "${1:-}" = "--test" ] && [ ! -x /usr/lib/chromium/chromium ]; then
  needed+=(chromium)  # the web chat browser test (Playwright drives Debian's build)
fi

if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install: ${needed[*]} (no apt-get on this machine)" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing Debian packages: ${needed[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
