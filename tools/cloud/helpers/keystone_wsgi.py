"""Keystone's WSGI application for gunicorn: keystone_wsgi:application.

Keystone parses sys.argv when it loads; gunicorn's own arguments would make
it exit, and gunicorn would restart the worker forever. The config comes
from OS_KEYSTONE_CONFIG_FILES instead.
"""

import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402

__all__ = ["application"]
