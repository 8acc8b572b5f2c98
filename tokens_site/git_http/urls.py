from django.urls import path

from tokens_site import converters  # noqa: F401  (registers `fullpath`)
from tokens_site.git_http import lfs, views

app_name = "git_http"

urlpatterns = [
    path("<fullpath:full_path>.git/info/refs", views.info_refs, name="info_refs"),
    path("<fullpath:full_path>.git/git-upload-pack", views.upload_pack, name="upload_pack"),
    path("<fullpath:full_path>.git/git-receive-pack", views.receive_pack, name="receive_pack"),
    # Git LFS (tokens_site.git_http.lfs)
    path("<fullpath:full_path>.git/info/lfs/objects/batch", lfs.batch, name="lfs_batch"),
    path("<fullpath:full_path>.git/info/lfs/objects/verify", lfs.verify, name="lfs_verify"),
    path(
        "<fullpath:full_path>.git/gitlab-lfs/objects/<str:oid>/<int:size>",
        lfs.upload,
        name="lfs_upload",
    ),
    path(
        "<fullpath:full_path>.git/gitlab-lfs/objects/<str:oid>", lfs.download, name="lfs_download"
    ),
    path("<fullpath:full_path>.git/info/lfs/locks", lfs.locks, name="lfs_locks"),
    path(
        "<fullpath:full_path>.git/info/lfs/locks/verify", lfs.locks_verify, name="lfs_locks_verify"
    ),
    path(
        "<fullpath:full_path>.git/info/lfs/locks/<int:lock_id>/unlock",
        lfs.unlock,
        name="lfs_unlock",
    ),
]
