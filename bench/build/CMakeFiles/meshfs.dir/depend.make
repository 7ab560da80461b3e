# Empty dependencies file for meshfs.
# This may be replaced when dependencies are built.
