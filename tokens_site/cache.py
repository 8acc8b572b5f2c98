"""Django's Redis cache, keeping one Redis client per connection pool.

Django's own backend builds a new `redis.Redis` object for every cache operation, which costs
more than the round trip itself; the site reads the cache often (the instance settings, once a
process's own copy is a few seconds old), so we keep the clients. `redis.Redis` is
thread-safe. (The failed-authentication ban is never in the cache: tokens_site.auth.store.)
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
