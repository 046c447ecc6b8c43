"""The link contract: the seed's implicit many-to-many ``Automation.campaigns`` (``_AutomationToCampaign``)."""

from __future__ import annotations

import pytest

from campaign_core.errors import ConflictError
from campaign_core.ports import Store
from campaign_core.testing.helpers import sample_record

__all__ = ["LinkContract"]


def _two_of_each(store: Store) -> tuple[list[str], list[str]]:
    """Two workflows and two campaigns, committed; their ids."""
    flows = [sample_record("automations", n) for n in (1, 2)]
    campaigns = [sample_record("campaigns", n) for n in (1, 2)]
    with store.unit_of_work() as uow:
        uow.automations.add_many(flows)
        uow.campaigns.add_many(campaigns)
        uow.commit()
    return [f.id for f in flows], [c.id for c in campaigns]


class LinkContract:
    """``uow.automation_campaigns``: pairs (workflow id, campaign id), kept like rows."""

    def test_links_are_pairs_kept_once_and_found_by_either_side(self, store: Store) -> None:
        """link/unlink/find: a pair is there once; find by either side, sorted."""
        (a1, a2), (b1, b2) = _two_of_each(store)
        with store.unit_of_work() as uow:
            links = uow.automation_campaigns
            assert links.link(a2, b1) is True
            assert links.link(a1, b1) is True
            assert links.link(a1, b2) is True
            assert links.link(a1, b1) is False  # already there: nothing changes
            uow.commit()
        with store.unit_of_work() as uow:
            links = uow.automation_campaigns
            assert links.find() == sorted([(a1, b1), (a1, b2), (a2, b1)])
            assert links.find(a=a1) == sorted([(a1, b1), (a1, b2)])
            assert links.find(b=b1) == sorted([(a1, b1), (a2, b1)])
            assert links.find(a=a2, b=b2) == []
            assert links.unlink(a1, b2) is True
            assert links.unlink(a1, b2) is False
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.automation_campaigns.find(a=a1) == [(a1, b1)]

    def test_a_link_is_rolled_back_with_its_unit_of_work(self, store: Store) -> None:
        """A link written in a unit of work that is not committed is not kept."""
        (a1, _), (b1, _) = _two_of_each(store)
        with store.unit_of_work() as uow:
            uow.automation_campaigns.link(a1, b1)
        with store.unit_of_work() as uow:
            assert uow.automation_campaigns.find() == []
            uow.automation_campaigns.link(a1, b1)
            uow.commit()
        with store.unit_of_work() as uow:
            uow.automation_campaigns.unlink(a1, b1)
            uow.rollback()
        with store.unit_of_work() as uow:
            assert uow.automation_campaigns.find() == [(a1, b1)]

    def test_a_link_names_existing_rows_and_follows_their_deletion(self, store: Store) -> None:
        """Linking a missing workflow or campaign is a conflict; deleting either side unlinks it."""
        (a1, a2), (b1, b2) = _two_of_each(store)
        for a, b in ((a1, "no-such-campaign"), ("no-such-workflow", b1)):
            with store.unit_of_work() as uow, pytest.raises(ConflictError):
                uow.automation_campaigns.link(a, b)
        with store.unit_of_work() as uow:
            for a in (a1, a2):
                for b in (b1, b2):
                    uow.automation_campaigns.link(a, b)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.campaigns.delete(b1)
            assert uow.automations.delete(a1)
            assert uow.automation_campaigns.find() == [(a2, b2)]
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.automation_campaigns.find() == [(a2, b2)]
