"""The kernel's own hook implementations, called last: the defaults packs may override."""

from __future__ import annotations

from romanasn import lane, products
from romanasn.plugins import hookimpl


@hookimpl(trylast=True)
def romanasn_product_names(rule, groups, config):
    """Each group's product name, from the rule's template or namer.

    A namer returning something other than a non-empty string raises
    TypeError, which the engine reports naming the rule's plugin.
    """
    if isinstance(rule.product_name, str):
        keys = {name: [group.key[name] for group in groups] for name in rule.group_by}
        return lane.Template(rule.product_name, rule.group_by).names(keys, len(groups), config.data_release_id).to_pylist()
    names = [rule.product_name(group, config) for group in groups]
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"product_name returned {name!r}, not a non-empty string")
    return names


@hookimpl(trylast=True)
def romanasn_file_stem(association):
    """``<product name>_asn``."""
    return f"{association.product_name}_asn"


@hookimpl(trylast=True)
def romanasn_build_associations(rule, groups, names, config):
    """Build members from ``rule.member`` and ``rule.companions``."""
    return products.build_associations(rule, groups, names, config)
