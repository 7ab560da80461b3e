# Empty compiler generated dependencies file for test_treecache.
# This may be replaced when dependencies are built.
