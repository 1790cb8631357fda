"""share_worker on RabbitMQ through kombu, speaking oslo.messaging's wire
format: an RPC server that acknowledges a request only once it is
handled (:mod:`.rpc`), a notification listener with bounded retries
(:mod:`.listener`), a publisher with confirms (:mod:`.publisher`), on a
consumer loop with a bounded prefetch (:mod:`.consumer`).
:mod:`share_worker.messaging` builds them from the configuration.
"""
