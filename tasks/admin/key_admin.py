"""The admin of API keys (the admin scope): list, create (the key is shown once,
in a message), revoke; never edit a key's secret, never un-revoke."""

from django import forms
from django.contrib import admin, messages
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from tasks.access import keys
from tasks.access import Scope, scopes_of
from tasks.models import ApiKey, Source, audit

if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)  # the library's own key model: unused, tasks.ApiKey extends it


class LegacyTokenAdmin(TokenAdmin):
    """DRF's old tokens: shown by prefix only, deleted (revoked) but never created here."""

    list_display = ("prefix", "user", "created")

    @admin.display(description="prefix")
    def prefix(self, token):
        return f"{token.key[:8]}…"

    def has_add_permission(self, request):
        return False  # new credentials are API keys

    def has_change_permission(self, request, obj=None):
        return False


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, LegacyTokenAdmin)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       help_text="What the key may do.")

    class Meta:
        model = ApiKey
        fields = ("name", "user", "scopes", "expiry_date", "revoked")


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    form = ApiKeyForm
    list_display = ("prefix", "name", "user", "scope_list", "state", "created", "last_used", "expiry_date")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    actions = ["revoke"]

    class Media:
        css = {"all": ["tasks/admin.css"]}

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)

    def get_readonly_fields(self, request, obj=None):
        fields = ("prefix", "last_used")
        if obj is not None:  # a key's owner and scopes are fixed; make a new key instead
            fields += ("user", "scopes")
        if obj is not None and obj.revoked:
            fields += ("name", "revoked", "expiry_date")
        return fields

    def _admin(self, request) -> bool:
        return Scope.ADMIN in scopes_of(request.user)

    def has_module_permission(self, request):
        return self._admin(request)

    def has_view_permission(self, request, obj=None):
        return self._admin(request)

    def has_add_permission(self, request):
        return self._admin(request)

    def has_change_permission(self, request, obj=None):
        return self._admin(request)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays, as a record

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "key.change" if change else "key.create", f"API key {obj.prefix}", 1,
                     source=Source.ADMIN)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = keys.revoke(list(queryset.values_list("prefix", flat=True)))
        audit.record(request.user, "keys.revoke", f"{count} API key(s)", count, source=Source.ADMIN)
        self.message_user(request, f"{count} key(s) revoked; every web process refuses them within "
                                   "QUEUE_API_TOKEN_CACHE seconds.", messages.SUCCESS)
