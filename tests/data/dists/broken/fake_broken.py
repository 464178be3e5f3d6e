"""A fake pack that fails to import."""

import romanasn_module_that_does_not_exist  # noqa: F401
