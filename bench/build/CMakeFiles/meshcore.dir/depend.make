# Empty dependencies file for meshcore.
# This may be replaced when dependencies are built.
