"""The field registry: built-in fields, declared traits, aliases and unknown names."""

from __future__ import annotations

import pytest

from campaign_core.criteria import (
    FieldRegistry,
    FieldSource,
    FieldType,
)
from campaign_core.criteria._fields import BUILTIN_FIELDS
from campaign_core.errors import ValidationError


def test_builtins_resolve_by_snake_and_camel_case() -> None:
    """Every built-in field resolves by its snake_case name and its camelCase alias."""
    registry = FieldRegistry.default()
    for spec in BUILTIN_FIELDS:
        assert registry.resolve(spec.name) is spec
        for alias in spec.aliases:
            assert registry.resolve(alias) is spec
    assert registry.resolve("spendingLevel").name == "spending_level"
    assert registry.resolve("noActivityDays").source is FieldSource.DERIVED


def test_spending_level_is_an_ordered_enum() -> None:
    """spending_level ranks none < low < medium < high < vip."""
    spec = FieldRegistry.default().resolve("spending_level")
    assert spec.type is FieldType.ENUM
    assert spec.ordered
    assert [spec.rank(m) for m in ("none", "low", "medium", "high", "vip")] == [0, 1, 2, 3, 4]


def test_traits_are_addressed_with_and_without_prefix() -> None:
    """A declared trait resolves as traits.<name>, <name> and camelCase variants."""
    registry = FieldRegistry.with_traits({"favorite_color": "string", "lastPurchase": "datetime"})
    for name in (
        "traits.favorite_color",
        "favorite_color",
        "favoriteColor",
        "traits.favoriteColor",
    ):
        assert registry.resolve(name).name == "traits.favorite_color"
    assert registry.resolve("last_purchase").type is FieldType.DATETIME
    assert registry.resolve("traits.last_purchase").source is FieldSource.TRAIT


def test_unknown_fields_raise_with_the_path() -> None:
    """An unknown name raises a ValidationError at the given path."""
    with pytest.raises(ValidationError) as caught:
        FieldRegistry.default().resolve("favorite_color", path="root.field")
    assert caught.value.problems[0].path == "root.field"
    assert caught.value.problems[0].code == "unknown_field"
    with pytest.raises(ValidationError):
        FieldRegistry.default().resolve(5)


@pytest.mark.parametrize(
    ("traits", "path"),
    [
        ({"engagement": "number"}, "traits.engagement"),
        ({"spendingLevel": "string"}, "traits.spendingLevel"),
        ({"all": "string"}, "traits.all"),
        ({"1abc": "string"}, "traits.1abc"),
        ({"has space": "string"}, "traits.has space"),
        ({"x": "json"}, "traits.x"),
        ({"x": "enum"}, "traits.x"),
    ],
)
def test_bad_trait_declarations(traits: dict[str, str], path: str) -> None:
    """Trait names must be identifiers that do not collide; types must be known."""
    with pytest.raises(ValidationError) as caught:
        FieldRegistry.with_traits(traits)
    assert caught.value.problems[0].path == path


def test_duplicate_traits_are_rejected() -> None:
    """Declaring a trait twice (even via its camelCase spelling) is an error."""
    with pytest.raises(ValidationError):
        FieldRegistry.with_traits([("favorite_color", "string"), ("favoriteColor", "string")])


def test_registries_are_values() -> None:
    """Registries with the same declarations are equal and hashable."""
    a = FieldRegistry.with_traits({"x": "number"})
    b = FieldRegistry.with_traits({"x": "number"})
    assert a == b
    assert hash(a) == hash(b)
    assert a != FieldRegistry.with_traits({"x": "string"})
    assert list(a.fields)[-1] == "traits.x"
