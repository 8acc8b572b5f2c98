"""gunicorn settings for `./dev serve` and production. Override any of them on the command line
or with gunicorn's own GUNICORN_CMD_ARGS, e.g. GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000"."""

bind = "127.0.0.1:8000"
# Threaded workers: a long `git clone` or a big push streams for as long as it takes without
# tying up a whole process or tripping the worker timeout.
worker_class = "gthread"
workers = 2
threads = 8
timeout = 120
accesslog = "-"
# Never log query strings: a client may put `private_token=...` there.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
# gunicorn >= 27 opens a control socket in $HOME by default; several servers on one machine
# (tests, staging) would fight over it, and nothing here uses it.
control_socket_disable = True


def when_ready(server):
    """`./dev serve`: say where the site is, once gunicorn listens (the real address, whatever
    --bind or GUNICORN_CMD_ARGS said)."""
    import os

    if os.environ.get("TOKENS_SERVE_BANNER") == "1":
        addresses = ", ".join(str(listener) for listener in server.LISTENERS)
        print(f"Serving on {addresses} (Ctrl-C stops).", flush=True)
