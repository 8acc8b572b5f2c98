import cProfile, pstats, io, base64, time
from tests.site.test_git_caches import *  # noqa
def test_profile(client, repository, authorization):
    advertise(client, authorization)
    url = "/tanuki/app.git/info/refs?service=git-upload-pack"
    for _ in range(50): client.get(url, HTTP_AUTHORIZATION=authorization)
    t=time.process_time()
    for _ in range(500): client.get(url, HTTP_AUTHORIZATION=authorization)
    a=time.process_time()-t
    t=time.process_time()
    for _ in range(500): client.get("/-/readiness")
    b=time.process_time()-t
    print("info/refs", a, "readiness", b, "ratio", b/a)
    pr = cProfile.Profile(); pr.enable()
    for _ in range(500): client.get(url, HTTP_AUTHORIZATION=authorization)
    pr.disable()
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_callers("choices|posix.open|build_policy|hasattr"); print(s.getvalue())
