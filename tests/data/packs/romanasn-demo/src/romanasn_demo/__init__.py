"""A demonstration rule pack, built and installed by the kernel's packaging tests."""
