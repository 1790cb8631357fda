"""Manila's own notifications reach a listener built from the worker's
``[manila_notifications]`` (messaging.manila_notification_listener): the
cloud's Manila publishes on exchange ``openstack``, topic
``notifications``, in its own RabbitMQ vhost."""

import subprocess
import urllib.parse
import uuid

import pytest

from share_worker import messaging
from tests.functional.cloud.shares import DEADLINE
from tests.functional.test_manila_notifications import Received

pytestmark = pytest.mark.real_cloud


@pytest.fixture
def manila_events(conf, real_cloud):
    """A listener in a pool (a queue) of this test's own, deleted after."""
    messaging.register_opts(conf)
    pool = "sw-test-%s" % uuid.uuid4().hex[:8]
    group = "manila_notifications"
    conf.set_override("transport_url", real_cloud.transport_url, group=group)
    conf.set_override("exchange", real_cloud.control_exchange, group=group)
    conf.set_override("topics", [real_cloud.notification_topic], group=group)
    conf.set_override("pool", pool, group=group)
    received = Received()
    listener = messaging.manila_notification_listener(conf, received)
    assert listener.start(wait=30), "the listener never consumed"
    yield received
    listener.stop()
    vhost = urllib.parse.urlsplit(real_cloud.transport_url).path.lstrip("/")
    subprocess.run(["rabbitmqctl", "-q", "-p", vhost, "delete_queue", pool],
                   capture_output=True, timeout=60, check=True)


def test_share_create_and_delete_end(real_cloud, manila_events, shares):
    share = shares.create("sw-user-b")
    created = manila_events.wait("share.create.end", share.id,
                                 timeout=DEADLINE)
    assert created["project_id"] == real_cloud.users["sw-user-b"].project_id
    assert created["size"] == 1

    real_cloud.manila("sw-user-b").shares.delete(share.id)
    deleted = manila_events.wait("share.delete.end", share.id,
                                 timeout=DEADLINE)
    assert deleted["share_id"] == share.id
