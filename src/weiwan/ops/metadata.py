"""The metadata of every ops model, for Alembic (import each domain's models here)."""

from __future__ import annotations

from sqlalchemy import MetaData

import weiwan.ops.anomalies.models
import weiwan.ops.appraisal.models
import weiwan.ops.campaigns.models
import weiwan.ops.consents.models
import weiwan.ops.contacts.models
import weiwan.ops.customers.models
import weiwan.ops.dataquality.models
import weiwan.ops.events.models
import weiwan.ops.ledger.models
import weiwan.ops.offers.models
import weiwan.ops.org.models
import weiwan.ops.privacy.models
import weiwan.ops.reports.models
import weiwan.ops.runs.models
import weiwan.ops.sms.models
import weiwan.ops.strategies.models
import weiwan.ops.surveys.models
import weiwan.ops.tasks.models  # noqa: F401  (importing registers the tables)
from weiwan.ops.base import Base

target_metadata: MetaData = Base.metadata
