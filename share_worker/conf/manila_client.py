"""Options of the ``[manila_client]`` group: how the worker reaches Manila.

keystoneauth1's own auth, session and adapter options (``auth_type``,
``auth_url``, ``cafile``, ``timeout``, ``endpoint_override``,
``region_name``, ``valid_interfaces`` ...) are registered here, so the
client is built by keystoneauth1's loading machinery::

    from oslo_config import cfg
    from share_worker.conf import manila_client
    conf = cfg.ConfigOpts()
    manila_client.register_opts(conf)
    conf(["--config-file", "etc/share_worker/share_worker.conf"])
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup(
    "manila_client",
    title="Manila client",
    help="keystoneauth1 options for the service user the worker polls "
         "Manila with (and finds the sharev2 endpoint through), plus the "
         "API microversion cap.")

opts = [
    cfg.StrOpt("api_microversion", default="2.73",
               regex=r"^2\.\d+$",
               help="Highest Manila API microversion the worker asks for. "
                    "The version used is the lower of this and the "
                    "server's maximum: revert in place needs 2.27, "
                    "snapshot metadata tags need 2.73."),
    cfg.StrOpt("noauth_admin_project", default="admin",
               help="With auth_strategy = noauth: the project the worker "
                    "names for its own admin calls (force-deleting a "
                    "snapshot or share a failed operation left in a busy "
                    "status). With keystone, the service user of this "
                    "group needs Manila's admin role for those."),
]

SERVICE_TYPE = "sharev2"
#: seconds before one Manila HTTP request is abandoned (and retried)
HTTP_TIMEOUT = 60


def register_opts(conf: cfg.ConfigOpts) -> None:
    # A group of its own: a shared OptGroup would share its options (and
    # their overrides) between every ConfigOpts of the process.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title,
                                     help=GROUP.help))
    conf.register_opts(opts, group=GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP.name)
    ks_loading.register_session_conf_options(conf, GROUP.name)
    ks_loading.register_adapter_conf_options(conf, GROUP.name)
    conf.set_default("service_type", SERVICE_TYPE, group=GROUP.name)
    conf.set_default("timeout", HTTP_TIMEOUT, group=GROUP.name)


def _keystoneauth_opts() -> list:
    ka = (ks_loading.get_auth_common_conf_options()
          + ks_loading.get_session_conf_options()
          + ks_loading.get_adapter_conf_options()
          + ks_loading.get_auth_plugin_conf_options("password"))
    ka = [copy.deepcopy(o) for o in ka]
    for opt in ka:
        if opt.dest == "service_type":
            opt.default = SERVICE_TYPE
        if opt.dest == "timeout":
            opt.default = HTTP_TIMEOUT
    seen: set[str] = set()
    unique = []
    for opt in ka:
        if opt.dest not in seen:
            seen.add(opt.dest)
            unique.append(opt)
    return unique


def list_opts() -> list:
    return [(GROUP, opts + _keystoneauth_opts())]
