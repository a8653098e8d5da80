"""factory-boy factories of the models, one per model, shared by every test folder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from inventory.models import Channel, Location, Sku


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    user = factory.SubFactory(UserFactory)


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    code = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    barcode = factory.Sequence(lambda n: f"{4000000000000 + n}")
    weight_grams = 250


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    code = factory.Sequence(lambda n: f"LOC-{n:03d}")
    name = factory.Sequence(lambda n: f"Location {n}")
    kind = "warehouse"
    city = "Berlin"
    postal_code = "10115"
    country = "DE"
    latitude = Decimal("52.532000")
    longitude = Decimal("13.384600")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"chan-{n:03d}")
    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = "shopify"
    currency = "EUR"

    @factory.post_generation
    def locations(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.locations.set(extracted)
