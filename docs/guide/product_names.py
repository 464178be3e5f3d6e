# Add to src/romanasn_my_survey/plugin.py.
@hookimpl
def romanasn_product_names(rule, groups, config):
    """Tag the visit stacks with the survey's name; every other rule keeps its own names."""
    if rule.name != f"{PREFIX}_visit_stack":
        return None
    return [f"{rule.product_name(group, config)}_{PREFIX}" for group in groups]
