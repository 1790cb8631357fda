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
