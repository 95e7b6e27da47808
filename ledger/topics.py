"""Where moved classes were first stored, so history written before a move still loads.

A stored event names its class by topic (module and qualified name). Moving a
class changes the topic new events get, but old events keep theirs: each old
topic is registered here against the class that now lives elsewhere. Never
remove a line: a store anywhere may still hold the old topic.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from domain.balances.client_credit import ClientCredit
from domain.balances.freelancer_balance import FreelancerBalance
from domain.balances.relationship import Relationship
from domain.contracts.fixed_price import FixedPriceContract

MOVED = {
    # the layout issue: one room per capability
    "domain.contract:FixedPriceContract": FixedPriceContract,
    "domain.freelancer_balance:FreelancerBalance": FreelancerBalance,
    "domain.relationship:Relationship": Relationship,
    "domain.client_credit:ClientCredit": ClientCredit,
}


def register_moved_topics() -> None:
    for topic, cls in MOVED.items():
        register_topic(topic, cls)  # idempotent for the same class
