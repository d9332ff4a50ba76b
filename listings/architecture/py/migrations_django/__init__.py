"""2.3: a minimal Django project whose one app, `shop`, renames
customer.name to full_name in expand/contract migrations.

Run its management commands as `python -m migrations_django <command>`
from listings/architecture/py. Settings come from settings.py, which reads
DATABASE_URL and MIGRATIONS_DJANGO_SCHEMA (the scratch schema a test uses).
"""
