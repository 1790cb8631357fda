"""Support for tests and benchmarks of share_worker (and of services that
call it): a throw-away RabbitMQ virtual host (:mod:`.rabbitmq`), a
private RabbitMQ node a test starts, restarts, kills and removes
(:mod:`.rabbitmq_node`), a TCP proxy to cut or stall a connection
(:mod:`.tcp_proxy`), the Manila simulator fixture
(:mod:`share_worker.simulator.fixture`)."""
