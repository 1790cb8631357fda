"""The one ``list_opts()`` that oslo-config-generator reads.

    oslo-config-generator --namespace share_worker --namespace oslo.messaging
"""

from share_worker.conf import MODULES


def list_opts() -> list:
    result = []
    for module in MODULES:
        result.extend(module.list_opts())
    return result
