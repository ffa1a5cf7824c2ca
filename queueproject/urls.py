from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from dashboard.views.site import favicon
from queueproject import errors
from tasks.api import compat_urls
from tasks.api.monitoring import metrics_view

# The API's documentation page (ReDoc, which holds no data) loads its script and
# fonts from their CDNs and styles itself inline: its own, looser policy.
API_DOCS_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, "https://cdn.jsdelivr.net"],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE, "https://fonts.googleapis.com"],
    "font-src": [CSP.SELF, "https://fonts.gstatic.com"],
    "img-src": [CSP.SELF, "data:", "https://cdn.redoc.ly"],
    "worker-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", include(compat_urls.admin)),  # document 003's /admin/... operations; the rest is the admin's
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", csp_override(API_DOCS_CSP)(SpectacularRedocView.as_view(url_name="schema")), name="api-docs"),
    path("api/", include("tasks.api.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include(compat_urls.root)),
]

handler404 = errors.not_found
handler500 = errors.server_error
