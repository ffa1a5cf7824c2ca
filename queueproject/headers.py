"""Permissions-Policy on every response: the pages use no camera, microphone,
location, payment or USB, so a script injected despite the CSP could not ask
for them either. (Django's SecurityMiddleware sets the other headers.)"""

POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", POLICY)
        return response
