"""The administrative tree refuses broken code chains with a precise reason."""

from __future__ import annotations

import pytest

from server.divisions import service
from server.errors import Conflict, InvalidInput, NotFound


def test_valid_chain(db_session) -> None:  # type: ignore[no-untyped-def]
    service.create_district(db_session=db_session, code="440112", name="黄埔区")
    service.create_street(db_session=db_session, code="440112001000", name="黄埔街道", district_code="440112")
    c = service.create_community(db_session=db_session, code="440112001001", name="社区", street_code="440112001000")
    assert c.street.district.code == "440112"


@pytest.mark.parametrize(("street", "district"), [
    ("440113001000", "440112"),  # street code not under its district
    ("44011200100", "440112"),  # 11 digits
    ("440112001001", "440112"),  # a community code given as a street
])
def test_street_chain_refused(db_session, street: str, district: str) -> None:  # type: ignore[no-untyped-def]
    service.create_district(db_session=db_session, code="440112", name="黄埔区")
    with pytest.raises(InvalidInput) as err:
        service.create_street(db_session=db_session, code=street, name="x", district_code=district)
    assert err.value.code == "invalid_street_code"


def test_community_under_wrong_street_refused(db_session) -> None:  # type: ignore[no-untyped-def]
    service.create_district(db_session=db_session, code="440112", name="黄埔区")
    service.create_street(db_session=db_session, code="440112001000", name="a", district_code="440112")
    with pytest.raises(InvalidInput):
        service.create_community(db_session=db_session, code="440112002001", name="x", street_code="440112001000")


def test_unknown_parent_and_duplicate(db_session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        service.create_street(db_session=db_session, code="440112001000", name="a", district_code="440112")
    service.create_district(db_session=db_session, code="440112", name="黄埔区")
    with pytest.raises(Conflict):
        service.create_district(db_session=db_session, code="440112", name="again")
