"""The one ``list_opts()`` that oslo-config-generator reads, and the hook
that shows share_worker's defaults for oslo.messaging's options in the
sample (``oslo.config.opts.defaults``)::

    oslo-config-generator --namespace share_worker --namespace oslo.messaging
"""

from oslo_config import cfg

from share_worker.conf import MODULES

#: oslo.messaging defaults share_worker changes (see messaging.py). RPC
#: handlers don't wait for their commits (share_worker.pending), so a few
#: threads keep up with ``rpc_prefetch`` requests in hand: 4 accepted as
#: fast as 16 did (bench/rpc_accept.py) with 12 threads fewer.
MESSAGING_DEFAULTS = {
    "control_exchange": "share_worker",
    "executor_thread_pool_size": 4,
    "notification_driver": ["messagingv2"],
}


def list_opts() -> list:
    result = []
    for module in MODULES:
        result.extend(module.list_opts())
    return result


def set_messaging_defaults() -> None:
    """Change oslo.messaging's library defaults to share_worker's."""
    import oslo_messaging
    from oslo_messaging import server
    from oslo_messaging.notify import notifier

    oslo_messaging.set_transport_defaults(
        control_exchange=MESSAGING_DEFAULTS["control_exchange"])
    cfg.set_defaults(server._pool_opts, executor_thread_pool_size=(
        MESSAGING_DEFAULTS["executor_thread_pool_size"]))
    cfg.set_defaults(notifier._notifier_opts,
                     driver=MESSAGING_DEFAULTS["notification_driver"])
