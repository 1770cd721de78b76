"""The Flask side of the peer benchmark: the same 1 KiB page, with and without Flask-Caching.

Served by gunicorn with 2 sync workers (``gunicorn -w 2``), the deployment Flask-Caching's
users run; ../src/flask.rs starts it pinned to the server core. Flask-Caching is set up as its
docs show: ``Cache(app, config=...)`` with SimpleCache (one store per worker process), the
same freshness (300 s) and bound (10,000 entries) as the Rust peers, and ``@cache.cached``.
"""

from flask import Flask, Response
from flask_caching import Cache

app = Flask(__name__)
cache = Cache(
    app,
    config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300, "CACHE_THRESHOLD": 10000},
)

BODY = b"x" * 1024


@app.route("/page")
def page():
    return Response(BODY, mimetype="text/plain")


@app.route("/cached")
@cache.cached(timeout=300)
def cached():
    return Response(BODY, mimetype="text/plain")
