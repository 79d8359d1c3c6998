"""What the package's data files hold, read through the package's own loaders.

`test_wheel_install.py` runs this file with the Python of a fresh venv the wheel was installed
into (printing the summary as JSON) and compares it with the same summary of the source tree:
a data file missing from the wheel fails its loader here, or changes a count. Run as a script,
it also says where ``weiwan`` was imported from, so the test can check it is the installed one.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _files(folder: Any) -> int:
    """Files below a package resource folder."""
    return sum(_files(item) if item.is_dir() else 1 for item in folder.iterdir())


def summary() -> dict[str, Any]:
    """Counts of what each shipped data file defines (YAML, templates, catalogues, SQL,
    migrations, static assets), each read the way the application reads it."""
    from jinja2 import Environment, PackageLoader

    from weiwan.analytics.alerts import DEFAULT_ANOMALY_FILES, load_rules
    from weiwan.analytics.contact_policy import load_contact_policy
    from weiwan.analytics.decide.config import load_decide_config
    from weiwan.analytics.period_reports import load_targets
    from weiwan.analytics.policies import load_policies
    from weiwan.analytics.segments import load_segment_config
    from weiwan.analytics.tags import load_tag_library
    from weiwan.analytics.targets import load_target_groups
    from weiwan.ops.migrate import head
    from weiwan.ops.surveys.return_visit import default_questionnaire
    from weiwan.web.i18n import read_catalog

    policies = load_policies()
    alerts = load_rules()
    anomalies = load_rules(list(DEFAULT_ANOMALY_FILES), kinds=("anomaly",))
    tags = load_tag_library()
    sql = (
        ("weiwan.ops.card.sql", "card_postgresql.sql"),
        ("weiwan.ops.contacts.sql", "record_postgresql.sql"),
    )
    return {
        "migration_head": head(),
        "policies": len(policies.policies),
        "policy_errors": len(policies.errors),
        "alert_rules": len(alerts.rules),
        "anomaly_rules": len(anomalies.rules),
        "rule_errors": len(alerts.errors) + len(anomalies.errors),
        "tags": len(tags.tags),
        "tag_errors": len(tags.errors),
        "target_groups": len(load_target_groups()),
        "segments": load_segment_config().model_dump(mode="json"),
        "decide": load_decide_config().model_dump(mode="json"),
        "report_targets": load_targets().model_dump(mode="json"),
        "contact_policy": load_contact_policy().model_dump(mode="json"),
        "return_visit_questions": len(default_questionnaire().questions),
        "zh_CN_messages": len(read_catalog("zh-CN")),
        "page_templates": len(Environment(loader=PackageLoader("weiwan.web")).list_templates()),
        "report_templates": len(
            Environment(loader=PackageLoader("weiwan.analytics.churn")).list_templates()
        ),
        "static_files": _files(resources.files("weiwan.web").joinpath("static")),
        "sql_chars": [len(resources.files(p).joinpath(n).read_text("utf-8")) for p, n in sql],
    }


if __name__ == "__main__":
    import weiwan

    print(json.dumps({"module": weiwan.__file__, "summary": summary()}, ensure_ascii=False))
