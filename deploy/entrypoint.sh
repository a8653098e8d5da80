#!/bin/sh
# The container's entry point (Dockerfile, compose.yaml): one image, one process per container.
#
#   entrypoint.sh web               gunicorn (deploy/gunicorn.conf.py) serving the site, static
#                                   files by whitenoise; collects them first if the image has not
#   entrypoint.sh worker [QUEUES]   a Celery worker of the queues (default: OMS_WORKER_QUEUES,
#                                   else all four: default,channels,labels,fx)
#   entrypoint.sh beat              Celery beat (run exactly one; a second one doubles nothing,
#                                   see README "Deploying", but sends every sweep twice)
#   entrypoint.sh migrate           apply the database migrations (once per release, before web)
#   entrypoint.sh check             Django's deployment checks (manage.py check --deploy)
#   entrypoint.sh <command ...>     anything else, as given (a shell, manage.py ...)
#
# OMS_MIGRATE_ON_START=1 makes `web` migrate first (a single-host deployment's shortcut). It runs
# the same outside a container (CI starts it with the project's virtualenv on its PATH).
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
app=$(dirname -- "$here")
cd "$app"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-oms.settings}"
python=${PYTHON:-python}

# gunicorn's processes share their request metrics through files in this folder (emptied at
# every start: the figures of a previous run's processes are not ours).
prometheus_dir() {
  export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/oms-prometheus}"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
}

role=${1:-web}
[ $# -gt 0 ] && shift

case "$role" in
  web)
    if [ "${OMS_MIGRATE_ON_START:-0}" = "1" ]; then
      "$python" manage.py migrate --noinput
    fi
    static_root=$("$python" -c 'import django; django.setup(); from django.conf import settings; print(settings.STATIC_ROOT)')
    if [ ! -f "$static_root/staticfiles.json" ]; then
      "$python" manage.py collectstatic --noinput --verbosity 0
    fi
    prometheus_dir
    exec gunicorn --config "$here/gunicorn.conf.py" oms.wsgi:application "$@"
    ;;
  worker)
    queues=${1:-${OMS_WORKER_QUEUES:-default,channels,labels,fx}}
    [ $# -gt 0 ] && shift
    exec celery -A oms worker --queues="$queues" \
      --concurrency="${OMS_WORKER_CONCURRENCY:-2}" --pool="${OMS_WORKER_POOL:-prefork}" \
      --hostname="${OMS_WORKER_NAME:-${queues%%,*}}@%h" \
      --without-gossip --without-mingle --loglevel=INFO "$@"
    ;;
  beat)
    schedule="${OMS_BEAT_SCHEDULE:-${OMS_VAR_DIR:-$app/var}/celerybeat-schedule}"
    mkdir -p "$(dirname -- "$schedule")"
    exec celery -A oms beat --loglevel=INFO --schedule="$schedule" "$@"
    ;;
  migrate)
    exec "$python" manage.py migrate --noinput "$@"
    ;;
  check)
    exec "$python" manage.py check --deploy --fail-level WARNING "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
