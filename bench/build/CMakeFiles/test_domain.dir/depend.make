# Empty dependencies file for test_domain.
# This may be replaced when dependencies are built.
