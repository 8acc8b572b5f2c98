"""The package registry in the admin: every package version of every project, searchable and
filtered by format; deleting one deletes its files (once committed) and is audited, as the
registry page's and the API's deletions are."""

from django.contrib import admin
from django.db.models import Count, Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy

from tokens_site.admin_helpers import CutColumnsAdmin
from tokens_site.audit import client_ip
from tokens_site.packages.models import Package
from tokens_site.packages.services import package_destroy


@admin.register(Package)
class PackageAdmin(CutColumnsAdmin):
    list_display = ["display_name", "version", "kind", "project", "files", "size", "created_at"]
    cut_columns = ("display_name", "version", "project")
    list_filter = ["kind", "created_at"]
    search_fields = ["display_name", "name", "version", "project__full_path"]
    list_select_related = ["project"]
    date_hierarchy = "created_at"
    readonly_fields = ["project", "kind", "name", "display_name", "version", "metadata"]
    exclude = ["created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(file_count=Count("files"), file_size=Sum("files__size"))
        )

    @admin.display(description=gettext_lazy("files"), ordering="file_count")
    def files(self, package) -> int:
        return package.file_count

    @admin.display(description=gettext_lazy("size"), ordering="file_size")
    def size(self, package) -> str:
        return filesizeformat(package.file_size or 0)

    def has_add_permission(self, request) -> bool:
        return False  # packages are published by their clients

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        package_destroy(actor=request.user, package=obj, ip_address=client_ip(request))

    def delete_queryset(self, request, queryset) -> None:
        for package in queryset.select_related("project"):
            package_destroy(actor=request.user, package=package, ip_address=client_ip(request))
