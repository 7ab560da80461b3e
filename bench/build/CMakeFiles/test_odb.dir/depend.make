# Empty dependencies file for test_odb.
# This may be replaced when dependencies are built.
