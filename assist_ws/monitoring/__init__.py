"""What an operator watches: Prometheus metrics (``/metrics``), liveness and readiness
(``/health``, ``/ready``).

* ``metrics``: the counters and histograms, written where things happen -- by the
  decorators the composition root puts around the processing gateway and the notification
  sender, by the request middleware, by the payment use case's caller and the worker's job
  loop; nothing under ``services`` or ``processing`` knows of them.
* ``state``: the gauges that are state (unknown outcomes, the notification backlog,
  settlement lag), read from the database when scraped, so that they are right whichever
  process or host did the work.
* ``multiproc``: the directory where the processes of one host write their metrics
  (Prometheus' multi-process mode), set up by ``assist-ws serve``.
* ``probes``: the WSGI middlewares -- request metrics, and the three endpoints with their
  access rule (loopback, or the metrics token).

This package knows the domain, the settings and ``prometheus_client``; the composition root
gives it what it needs from the database.
"""
