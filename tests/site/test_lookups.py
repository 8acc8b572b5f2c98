"""Compiled one-row lookups (the authentication hot path's queries)."""

import pytest
from django.db import connection, transaction
from django.db.models import Subquery

from tests.factories import GroupFactory, MembershipFactory, UserFactory
from tokens_site.lookups import Companion, CompiledLookup, alongside, attach, instance_from

pytestmark = pytest.mark.django_db

by_username = CompiledLookup(
    lambda username: (
        UserFactory._meta.model.objects.order_by()
        .filter(username=username)
        .values_list("id", "is_active", "date_joined")
    )
)


def prepared_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_a_lookup_returns_the_converted_row_or_none(django_assert_num_queries):
    user = UserFactory(username="ann")
    for _ in range(3):  # the first use on a connection costs no extra query either
        with django_assert_num_queries(1):
            assert by_username.row("ann") == (user.pk, True, user.date_joined)
    assert by_username.row("nobody") is None


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")


def test_on_postgresql_the_statement_is_prepared_once_per_connection(postgresql):
    UserFactory(username="ann")
    by_username.row("ann")
    assert by_username.statement_name in prepared_here()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        before = cursor.fetchone()[0]
    by_username.row("ann")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == before


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_new_connection_or_a_rollback_prepares_again_as_needed(postgresql):
    user = UserFactory(username="ann")
    connection.close()  # a new connection has nothing prepared
    with pytest.raises(RuntimeError), transaction.atomic():
        assert by_username.row("ann")[0] == user.pk  # prepared inside a transaction...
        raise RuntimeError("rolled back")
    assert by_username.row("ann")[0] == user.pk  # ...which outlives its rollback
    connection.close()
    assert by_username.row("ann")[0] == user.pk
    assert by_username.statement_name in prepared_here()


def test_instances_from_rows_behave_as_loaded_ones(django_assert_num_queries):
    user = UserFactory(username="ann", email="ann@example.com")
    found = instance_from(type(user), {"id": user.pk, "username": "ann"})
    assert found == user and not found._state.adding
    assert found.get_deferred_fields() >= {"email", "is_active"}
    with django_assert_num_queries(1):  # a deferred field loads on first access
        assert found.email == "ann@example.com"
    membership = MembershipFactory(user=user, group=GroupFactory())
    row = instance_from(type(membership), {"id": membership.pk, "user_id": user.pk})
    attach(row, "user", found)
    with django_assert_num_queries(0):
        assert row.user is found
    found.first_name = "Ann"
    found.save(update_fields=["first_name"])  # an UPDATE of the row, not an INSERT
    user.refresh_from_db()
    assert user.first_name == "Ann"


# Two values, one used twice and in the SELECT before the WHERE: the placeholders' order is
# not the arguments'.
by_username_and_active = CompiledLookup(
    lambda username, name: (
        UserFactory._meta.model.objects.order_by()
        .filter(username=username, first_name=name)
        .annotate(
            same=Subquery(UserFactory._meta.model.objects.filter(first_name=name).values("pk")[:1])
        )
        .values_list("id", "same")
    ),
    sentinels=("__username__", "__name__"),
)


def test_a_lookup_of_several_values_takes_them_in_their_own_order(django_assert_num_queries):
    user = UserFactory(username="ann", first_name="Ann")
    UserFactory(username="bob", first_name="Bob")
    for _ in range(2):
        with django_assert_num_queries(1):
            assert by_username_and_active.row("ann", "Ann") == (user.pk, user.pk)
    assert by_username_and_active.row("ann", "Bob") is None
    with pytest.raises(TypeError, match="takes 2 values"):
        by_username_and_active.row("ann")


def test_a_lookup_refuses_arguments_it_does_not_use():
    unused = CompiledLookup(
        lambda username, name: UserFactory._meta.model.objects.filter(
            username=username
        ).values_list("id"),
        sentinels=("__a__", "__b__"),
    )
    with pytest.raises(ValueError, match="Every argument"):
        unused.row("ann", "x")


# A second lookup, with a converted column (a datetime), to read alongside the others.
group_by_path = CompiledLookup(
    lambda path, name: (
        GroupFactory._meta.model.objects.order_by()
        .filter(path=path, name=name)
        .values_list("id", "created_at", "require_two_factor_authentication")
    ),
    sentinels=("__path__", "__name__"),
)


def test_a_companion_is_read_by_the_next_lookups_statement(django_assert_num_queries):
    user = UserFactory(username="ann", first_name="Ann")
    group = GroupFactory(path="tanuki", name="Tanuki")
    group.require_two_factor_authentication = True
    group.save(update_fields=["require_two_factor_authentication"])
    found_group = (group.pk, group.created_at, True)
    for username, path, expected in (
        ("ann", "tanuki", ((user.pk, user.pk), found_group)),
        ("nobody", "tanuki", (None, found_group)),
        ("ann", "nowhere", ((user.pk, user.pk), None)),
        ("nobody", "nowhere", (None, None)),
    ):
        companion = Companion(group_by_path, path, "Tanuki")
        with django_assert_num_queries(1), alongside(companion):
            # Arguments in both lookups' own orders: each takes its own two.
            mine = by_username_and_active.row(username, "Ann")
            assert (mine, companion.row()) == expected
        with django_assert_num_queries(0):  # read once
            assert companion.row() == expected[1]


def test_a_companion_rides_with_one_lookup_only_and_never_with_itself(
    django_assert_num_queries,
):
    user = UserFactory(username="ann")
    group = GroupFactory(path="tanuki", name="Tanuki")
    companion = Companion(group_by_path, "tanuki", "Tanuki")
    with alongside(companion):
        with django_assert_num_queries(1):
            assert group_by_path.row("tanuki", "Tanuki")[0] == group.pk  # its own: alone
        assert not companion.read
        with django_assert_num_queries(1):
            assert by_username.row("ann")[0] == user.pk
        assert companion.read
        with django_assert_num_queries(1):  # a later lookup: nothing more to read
            assert by_username.row("ann")[0] == user.pk
        with django_assert_num_queries(0):
            assert companion.row()[0] == group.pk
    alone = Companion(group_by_path, "tanuki", "Tanuki")
    with alongside(alone):
        pass
    with django_assert_num_queries(1):  # no lookup ran: it reads its row itself
        assert alone.row()[0] == group.pk
    with django_assert_num_queries(1):  # outside alongside(), lookups run alone
        assert by_username.row("ann")[0] == user.pk


def test_on_postgresql_a_shared_statement_is_prepared_once_per_connection(postgresql):
    UserFactory(username="ann")
    GroupFactory(path="tanuki", name="Tanuki")
    prepared = []
    for _ in range(2):
        companion = Companion(group_by_path, "tanuki", "Tanuki")
        with alongside(companion):
            by_username.row("ann")
        assert companion.row() is not None
        prepared.append(prepared_here())
    assert f"{by_username.statement_name}_with_{group_by_path.number}" in prepared[0]
    assert prepared[1] == prepared[0]
