import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")

application = get_wsgi_application()

# What is loaded by now (Django, the apps, their models) lives as long as the
# worker. Frozen, the garbage collector stops walking it on every full
# collection: those walks were ~1.8 ms a request on the issue list, and ~0.8
# ms frozen (docs/benchmarks.md). Nothing is freed later that would have been
# before: these objects are never garbage.
gc.freeze()
