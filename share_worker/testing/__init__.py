"""Support for tests and benchmarks of share_worker (and of services that
call it): a throw-away RabbitMQ virtual host, the Manila simulator
fixture (:mod:`share_worker.simulator.fixture`)."""
