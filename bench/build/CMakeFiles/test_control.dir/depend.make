# Empty dependencies file for test_control.
# This may be replaced when dependencies are built.
