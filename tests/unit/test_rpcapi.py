"""rpcapi over oslo.messaging's fake:// transport: every client method
reaches the server method of the same name with the contract's
arguments, as a call or a cast."""

import oslo_messaging
import pytest
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import messaging, rpcapi
from tests.conftest import wait_for

SHARE = "OS::Manila::Share"


class Recorder:
    """A server endpoint that records what arrives."""

    target = oslo_messaging.Target(version=rpcapi.RPC_API_VERSION)

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        @oslo_messaging.expose
        def method(ctxt, **kwargs):
            self.calls.append((name, ctxt, kwargs))
            return {"method": name}
        return method


@pytest.fixture(scope="module")
def wired():
    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    from share_worker import conf as sw_conf
    sw_conf.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    conf.set_override("transport_url", "fake://")
    transport = messaging.rpc_transport(conf)
    recorder = Recorder()
    # The explicit access policy needs exposed methods on the class, so
    # this test server uses the default policy on the recorder.
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(
            exchange="share_worker", topic="share_worker",
            server="test-host", version="1.0"), [recorder])
    server.start()
    api = rpcapi.ShareWorkerAPI(transport, timeout=10)
    yield api, recorder
    server.stop()
    server.wait()
    transport.cleanup()


CTX = o_context.RequestContext(user_id="u", project_id="p", auth_token="t")
CALLS = [
    ("protect", ({"type": SHARE, "id": "s"},),
     {"resource": {"type": SHARE, "id": "s"}, "options": None,
      "checkpoint_id": None}),
    ("restore", ("cp", {"share_id": "s"}),
     {"checkpoint_id": "cp", "options": {"share_id": "s"}}),
    ("delete", ("cp",), {"checkpoint_id": "cp"}),
    ("show_checkpoint", ("cp",), {"checkpoint_id": "cp"}),
    ("list_checkpoints", ({"status": "available"}, 5, "m"),
     {"filters": {"status": "available"}, "limit": 5, "marker": "m"}),
    ("show_restore", ("r",), {"restore_id": "r"}),
    ("list_restores", (), {"filters": None, "limit": None, "marker": None}),
    ("list_protectable_types", (), {}),
    ("show_protectable_type", (SHARE,), {"resource_type": SHARE}),
    ("list_protectable_instances", (SHARE, {"name": "x"}),
     {"resource_type": SHARE, "parameters": {"name": "x"}}),
    ("show_protectable_instance", (SHARE, "s"),
     {"resource_type": SHARE, "resource_id": "s"}),
    ("list_protectable_dependents", ("OS::Keystone::Project", "p"),
     {"resource_type": "OS::Keystone::Project", "resource_id": "p"}),
    ("show_plugin_schemas", (SHARE,), {"resource_type": SHARE}),
]


@pytest.mark.parametrize("method, args, expected", CALLS,
                         ids=[c[0] for c in CALLS])
def test_call_reaches_the_method_of_the_same_name(wired, method, args,
                                                  expected):
    api, recorder = wired
    assert getattr(api, method)(CTX, *args) == {"method": method}
    name, ctxt, kwargs = recorder.calls[-1]
    assert name == method and kwargs == expected
    assert ctxt["project_id"] == "p" and ctxt["auth_token"] == "t"


@pytest.mark.parametrize("method", ["protect", "restore", "delete"])
def test_cast_variants(wired, method):
    api, recorder = wired
    args = {"protect": ({"type": SHARE, "id": "s"},),
            "restore": ("cp",), "delete": ("cp",)}[method]
    recorder.calls.clear()
    assert getattr(api, "cast_" + method)(CTX, *args) is None
    wait_for(lambda: recorder.calls, what="the cast to arrive")
    assert recorder.calls[-1][0] == method


def test_dict_context_is_accepted_and_garbage_refused(wired):
    api, recorder = wired
    api.show_checkpoint(CTX.to_dict(), "cp")
    with pytest.raises(TypeError):
        api.show_checkpoint("not a context", "cp")


def test_client_on_private_config_needs_no_global_options(wired):
    """oslo.messaging 18 reads tracing/metrics options in call/cast; a
    client on its own ConfigOpts works because register_opts adds them.
    (The fake driver's exchanges are process-wide: the test server
    answers.)"""
    api = rpcapi.ShareWorkerAPI.from_url("fake://", timeout=10)
    try:
        assert api.list_protectable_types(CTX) == {
            "method": "list_protectable_types"}
    finally:
        api.close()


def test_version_history_names_the_current_version():
    assert rpcapi.RPC_API_VERSION == "1.2"
    for version in ("1.0 -", "1.1 -", "1.2 -"):
        assert version in rpcapi.__doc__


def test_only_an_all_projects_list_needs_1_2(wired):
    api, _ = wired
    sent = []
    real = api._client.prepare

    def prepare(**kw):
        sent.append(kw.get("version"))
        return real(**kw)

    api._client.prepare = prepare
    api.list_checkpoints(CTX, {"status": "available"})
    api.list_checkpoints(CTX, {"all_projects": True})
    api.list_restores(CTX)
    api.list_policies(CTX)
    api.list_policies(CTX, {"all_projects": True})
    assert sent == ["1.0", "1.2", "1.0", "1.1", "1.2"]
