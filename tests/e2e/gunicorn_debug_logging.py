"""gunicorn settings for the end-to-end gateway: those of ``assist-ws serve``, with every
logger of the process (the app's, Zeep's envelopes, urllib3, SQLAlchemy's) at DEBUG to stderr
-- and without the redacting filter -- which the fixture writes to a file, so that a test can
prove card data reaches no log line even when everything is logged and nothing is masked."""

from assist_ws.gunicorn_config import *  # noqa: F401,F403 - the shipped settings

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                            "stream": "ext://sys.stderr"}},
    "root": {"level": "DEBUG", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "sqlalchemy.engine": {"level": "INFO"},
    },
}
