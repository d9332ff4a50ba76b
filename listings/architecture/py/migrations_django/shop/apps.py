from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "migrations_django.shop"
    label = "shop"
