"""A well-behaved fake pack: one rule, a product-name override, an option, a command."""

from romanasn import Command, Option, Rule, hookimpl, isin, strip_level


def _name(group, config):
    return strip_level(group.first("filename"))


@hookimpl
def romanasn_rules():
    return [
        Rule(
            name="fake_exposure",
            asn_type="image2",
            level=2,
            select=[isin("exposure_type", "WFI_IMAGE")],
            group_by=("filename",),
            product_name=_name,
            summary="one association per WFI_IMAGE file",
        )
    ]


@hookimpl
def romanasn_generate_options():
    return [Option("--fake-flag", help="a fake switch", flag=True)]


@hookimpl
def romanasn_commands():
    return [Command("fake-hello", help="say hello", configure=lambda p: p.add_argument("who"),
                    run=lambda args: print(f"hello {args.who}") or 0)]
