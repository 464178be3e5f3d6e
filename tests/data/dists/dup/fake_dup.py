"""A fake pack whose rule name is already taken by fake_ok."""

from romanasn import Rule, hookimpl, isin


@hookimpl
def romanasn_rules():
    return [Rule(name="fake_exposure", asn_type="image2", level=2, group_by=("filename",),
                 select=[isin("exposure_type", "WFI_IMAGE")], product_name=lambda g, c: "x")]
