# Empty compiler generated dependencies file for test_commit.
# This may be replaced when dependencies are built.
