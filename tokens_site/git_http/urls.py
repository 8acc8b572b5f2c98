from django.urls import path

from tokens_site import converters  # noqa: F401  (registers `fullpath`)
from tokens_site.git_http import views

app_name = "git_http"

urlpatterns = [
    path("<fullpath:full_path>.git/info/refs", views.info_refs, name="info_refs"),
    path("<fullpath:full_path>.git/git-upload-pack", views.upload_pack, name="upload_pack"),
    path("<fullpath:full_path>.git/git-receive-pack", views.receive_pack, name="receive_pack"),
]
