"""Two ConfigOpts in one process (a test's worker and its simulator, a
caller and a worker) keep their own values in every group."""

import pytest
from oslo_config import cfg

from share_worker import conf as sw_conf

#: one option of each group share_worker registers, and a value for it
OPTIONS = [("share_worker", "topic", "topic-a"),
           ("database", "connection", "sqlite:///a.sqlite"),
           ("manila_client", "endpoint_override", "http://a:8786/v2"),
           ("manila_client", "timeout", 5),
           ("manila_notifications", "pool", "pool-a"),
           (None, "state_path", "/state-a")]


def _conf():
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    return conf


@pytest.mark.parametrize("group,name,value", OPTIONS)
def test_an_override_stays_in_its_conf(group, name, value):
    first, second = _conf(), _conf()
    before = (second[group] if group else second)[name]
    first.set_override(name, value, group=group)
    assert (first[group] if group else first)[name] == value
    assert (second[group] if group else second)[name] == before
    third = _conf()
    assert (third[group] if group else third)[name] == before
