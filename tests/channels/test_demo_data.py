import pytest
from django.core.management import call_command

from channels.models import Channel
from inventory.models import Location, Sku


def counts() -> dict[str, int]:
    return {
        "skus": Sku.objects.count(),
        "locations": Location.objects.count(),
        "channels": Channel.objects.count(),
    }


@pytest.mark.django_db
def test_demo_data_twice_gives_the_same_counts():
    call_command("demo_data", verbosity=0)
    first = counts()
    call_command("demo_data", verbosity=0)
    assert counts() == first


@pytest.mark.django_db
def test_demo_data_is_a_believable_merchant():
    call_command("demo_data", verbosity=0)
    assert Sku.objects.count() >= 200
    assert not Sku.objects.filter(barcode="").exists()
    assert Location.objects.count() >= 5
    assert len(set(Location.objects.values_list("country", flat=True))) >= 3
    assert {"warehouse", "store", "3pl"} <= set(Location.objects.values_list("kind", flat=True))
    assert not Location.objects.filter(latitude__isnull=True).exists()
    channels = Channel.objects.all()
    assert {"shopify", "amazon", "pos"} <= {c.kind for c in channels}
    assert len({c.currency for c in channels}) >= 3
    assert all(c.locations.exists() for c in channels)
