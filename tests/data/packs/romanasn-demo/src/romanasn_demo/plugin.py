"""Hooks of the demo pack: a per-detector rule, and its own product and file names."""

from romanasn import Rule, hookimpl, isin

RULE = "demo_detector"


@hookimpl
def romanasn_rules():
    return [Rule(name=RULE, asn_type="detector", level=3,
                 select=[isin("exposure_type", "WFI_IMAGE")],
                 group_by=("program", "detector"),
                 product_name=lambda group, config: "unnamed",
                 summary="every WFI_IMAGE exposure of one detector")]


@hookimpl
def romanasn_product_names(rule, groups):
    if rule.name != RULE:
        return None
    return [f"demo_{g.key['program']:05d}_{g.key['detector'].lower()}" for g in groups]


@hookimpl
def romanasn_file_stem(association):
    if association.asn_rule != RULE:
        return None
    return f"{association.product_name}_demo"
