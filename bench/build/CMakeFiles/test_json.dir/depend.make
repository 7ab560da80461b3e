# Empty dependencies file for test_json.
# This may be replaced when dependencies are built.
