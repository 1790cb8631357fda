"""The sample configuration in etc/ is what oslo-config-generator makes."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
GENERATOR_CONF = ROOT / "etc/share_worker/share_worker-config-generator.conf"
SAMPLE = ROOT / "etc/share_worker/share_worker.conf.sample"


def test_sample_config_is_current(tmp_path):
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator", "--config-file",
         str(GENERATOR_CONF), "--output-file", str(out)],
        check=True, cwd=ROOT, capture_output=True)
    assert out.read_text() == SAMPLE.read_text(), (
        "etc/share_worker/share_worker.conf.sample is stale: run "
        "'tox -e genconfig' (python -m oslo_config.generator --config-file %s)"
        % GENERATOR_CONF.relative_to(ROOT))


def test_every_option_group_is_listed():
    from share_worker.conf import opts
    groups = {getattr(g, "name", g) for g, _ in opts.list_opts()}
    assert groups == {"DEFAULT", "share_worker", "database", "manila_client",
                      "manila_notifications"}


POLICY_GENERATOR_CONF = (ROOT /
                         "etc/share_worker/share_worker-policy-generator.conf")
POLICY_SAMPLE = ROOT / "etc/share_worker/policy.yaml.sample"


def _bin(name):
    return str(pathlib.Path(sys.executable).with_name(name))


def test_sample_policy_is_current(tmp_path):
    out = tmp_path / "policy.yaml"
    subprocess.run(
        [_bin("oslopolicy-sample-generator"), "--config-file",
         str(POLICY_GENERATOR_CONF), "--output-file", str(out)],
        check=True, cwd=ROOT, capture_output=True)
    assert out.read_text() == POLICY_SAMPLE.read_text(), (
        "etc/share_worker/policy.yaml.sample is stale: run "
        "oslopolicy-sample-generator --config-file %s"
        % POLICY_GENERATOR_CONF.relative_to(ROOT))


def test_policy_generator_reads_an_operators_override(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        '"share_worker:checkpoint:delete": "role:admin"\n')
    conf = tmp_path / "share_worker.conf"
    conf.write_text("[oslo_policy]\npolicy_file = %s\n"
                    % (tmp_path / "policy.yaml"))
    out = subprocess.run(
        [_bin("oslopolicy-policy-generator"), "--namespace",
         "share_worker", "--config-file", str(conf)],
        check=True, cwd=tmp_path, capture_output=True, text=True).stdout
    assert '"share_worker:checkpoint:delete": "role:admin"' in out
    assert ('"share_worker:checkpoint:create": "role:member and '
            'project_id:%(project_id)s"') in out
