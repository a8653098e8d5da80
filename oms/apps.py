from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class OmsConfig(AppConfig):
    name = "oms"
    label = "oms"
    verbose_name = "OMS kernel"

    def ready(self) -> None:
        from oms.celery import ensure_broker_folders
        from oms.roles import roles_sync_after_migrate

        ensure_broker_folders()
        # var/ holds the SQLite file, the embedded broker and collected static files.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        # New models of later migrations get their role permissions without a new data migration.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="oms.roles_sync")

        # API tokens, their users and permissions are reference data cached per process.
        from django.contrib.auth.models import Group, Permission, User
        from rest_framework.authtoken.models import Token

        from oms import refdata

        refdata.watch(
            User,
            Group,
            Permission,
            Token,
            m2m=[User.groups.through, User.user_permissions.through, Group.permissions.through],
        )


class OmsAdminConfig(AdminConfig):
    default_site = "oms.admin.site.OmsAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module
        from django.utils.module_loading import autodiscover_modules

        # The kernel's own pages: oms.admin is the kit every app imports, so it registers nothing.
        import oms.admin.inbox  # noqa: F401
        import oms.admin.outbox  # noqa: F401

        # The operations home's figures and stations: each app's `admin_home` module registers
        # its own (oms.admin.home), as its `admin` module registers its pages.
        autodiscover_modules("admin_home")
