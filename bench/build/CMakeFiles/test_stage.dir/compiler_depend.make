# Empty compiler generated dependencies file for test_stage.
# This may be replaced when dependencies are built.
