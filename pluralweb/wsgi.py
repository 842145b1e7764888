import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pluralweb.settings")
application = get_wsgi_application()

from pluralweb.startup import warm_up_in_background  # noqa: E402 (needs the settings configured above)

warm_up_in_background()
