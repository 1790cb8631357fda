"""Manila's API as a WSGI application for gunicorn: manila_wsgi:application.

manila.wsgi.api reads its configuration from sys.argv when imported, so the
argv it sees is set here, from SHARE_WORKER_CLOUD_MANILA_CONF.
"""

import os
import sys

sys.argv = ["manila-api", "--config-file",
            os.environ["SHARE_WORKER_CLOUD_MANILA_CONF"]]

from manila.wsgi.api import application  # noqa: E402

__all__ = ["application"]
