# Empty compiler generated dependencies file for test_refs.
# This may be replaced when dependencies are built.
