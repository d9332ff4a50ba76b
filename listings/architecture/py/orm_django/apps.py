from django.apps import AppConfig


class OrmDjangoConfig(AppConfig):
    name = "orm_django"
    label = "orm_django"
    default_auto_field = "django.db.models.BigAutoField"
