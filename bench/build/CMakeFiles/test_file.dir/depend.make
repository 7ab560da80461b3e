# Empty dependencies file for test_file.
# This may be replaced when dependencies are built.
