# Add to src/romanasn_my_survey/plugin.py.
#: The tag the survey's archive expects at the end of a visit stack's name.
VISIT_STACK_TAG = "vstack"


@hookimpl
def romanasn_product_names(rule, groups, config):
    """Tag the visit stacks for the survey's archive; every other rule keeps its own names."""
    if rule.name != f"{PREFIX}_visit_stack":
        return None
    return [f"{rule.product_name(group, config)}_{VISIT_STACK_TAG}" for group in groups]
