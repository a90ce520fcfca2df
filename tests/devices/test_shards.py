"""Device shards (devices.shards): every device has exactly one shard, and bad topics belong to shard 1."""

from __future__ import annotations

import pytest

from devices import topics
from devices.shards import EVERY_DEVICE, Shard


@pytest.mark.parametrize("text", ["", "2", "0/2", "3/2", "1/0", "a/b", "1/2/3", "-1/2", "1/1025"])
def test_a_shard_is_k_of_n(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        Shard.parse(text)


def test_every_device_has_exactly_one_shard() -> None:
    shards = [Shard.parse(f"{k}/4") for k in range(1, 5)]
    codes = [f"44011200001310{i:06d}" for i in range(2_000)]
    owners = [[s for s in shards if s.owns(c)] for c in codes]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o[0] is s) for s in shards]
    assert min(sizes) > 400, sizes  # CRC-32 spreads them (500 each if even)
    assert all(EVERY_DEVICE.owns(c) for c in codes)


def test_a_message_goes_to_its_devices_shard_and_a_bad_topic_to_shard_1() -> None:
    one, two = Shard(1, 2), Shard(2, 2)
    code = next(f"CAM{i}" for i in range(100) if two.owns(f"CAM{i}"))
    topic = topics.topic("camera", code, "heartbeat")
    assert (one.owns_topic(topic), two.owns_topic(topic)) == (False, True)
    assert (one.owns_topic("gridops/v1/nonsense"), two.owns_topic("gridops/v1/nonsense")) == (True, False)


def test_each_shard_has_its_own_session_and_lock() -> None:
    assert (EVERY_DEVICE.client_id("gridops-ingester"), EVERY_DEVICE.job) == ("gridops-ingester", "devices ingest")
    assert (Shard(2, 4).client_id("gridops-ingester"), Shard(2, 4).job) == ("gridops-ingester-2of4",
                                                                             "devices ingest 2/4")


def test_a_topic_outside_the_scheme_under_a_devices_code_is_that_devices() -> None:
    """The broker's ACL lets a device publish anything in its own subtree, e.g. an unknown message:
    it reaches the shard subscribed to that device, which must keep (dead-letter) it."""
    owner = next(s for s in (Shard(1, 2), Shard(2, 2)) if s.owns("CAM7"))
    assert owner.owns_topic("gridops/v1/camera/CAM7/nonsense")
    assert not Shard(3 - owner.index, 2).owns_topic("gridops/v1/camera/CAM7/nonsense")
    assert EVERY_DEVICE.filters(["CAM7"]) == [topics.ALL]
