"""Emailed one-time codes: the flows (flows.py, the state machine in Redis) and what they
may cost (quotas.py: mail budgets, start cooldowns, wrong-code caps)."""

from security.codes.flows import (
    CODE_SENT,
    FLOW_ID_PATTERN,
    VERIFIED,
    CodeFlows,
    CodeIssued,
    Deliver,
    Flow,
    FlowNotFound,
    WrongCode,
)
from security.codes.quotas import GLOBAL_MAIL_KEY, Limits, RateLimitExceeded

__all__ = [
    "CODE_SENT",
    "FLOW_ID_PATTERN",
    "GLOBAL_MAIL_KEY",
    "VERIFIED",
    "CodeFlows",
    "CodeIssued",
    "Deliver",
    "Flow",
    "FlowNotFound",
    "Limits",
    "RateLimitExceeded",
    "WrongCode",
]
