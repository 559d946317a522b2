"""Running it in production: ``logs`` (JSON or text lines, the request id, the access log), ``metrics``
(Prometheus: counters kept by the process, gauges read from the store at scrape time) and ``http`` (the
ASGI layer of ``serve`` that gives every request its id, its access-log line and its latency)."""
