"""The browsable API docs at /api/docs/: Swagger UI from drf-spectacular-sidecar's files.

The split view serves its start-up script as a file of its own, and the page's few styles are
in our static files, so the page needs no inline script or style (the dashboard's
Content-Security-Policy allows our own files only) and nothing from a CDN. Swagger UI's own
stylesheet draws its icons as data: SVG images, which this page alone allows.
"""

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView


@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")
class SwaggerDocs(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    title = "subsync API"
