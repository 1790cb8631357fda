"""Console entry points. Each ``main()`` builds a fresh ``ConfigOpts``
and hands it to the service it runs."""

import warnings

# manilaclient's dependencies import eventlet, which warns on import; the
# worker runs on threads and never uses it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
