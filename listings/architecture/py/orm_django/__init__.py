"""2.6's Django app: two models and nothing else, configured in code by
orm_django_queries.py (settings.configure), never shared with another
chapter's Django settings."""
