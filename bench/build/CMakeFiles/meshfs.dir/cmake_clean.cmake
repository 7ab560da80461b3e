file(REMOVE_RECURSE
  "CMakeFiles/meshfs.dir/fs/daemon.c.o"
  "CMakeFiles/meshfs.dir/fs/daemon.c.o.d"
  "CMakeFiles/meshfs.dir/fs/dirty.c.o"
  "CMakeFiles/meshfs.dir/fs/dirty.c.o.d"
  "CMakeFiles/meshfs.dir/fs/nodes.c.o"
  "CMakeFiles/meshfs.dir/fs/nodes.c.o.d"
  "CMakeFiles/meshfs.dir/fs/ops.c.o"
  "CMakeFiles/meshfs.dir/fs/ops.c.o.d"
  "CMakeFiles/meshfs.dir/tools/jsonread.c.o"
  "CMakeFiles/meshfs.dir/tools/jsonread.c.o.d"
  "CMakeFiles/meshfs.dir/tools/meshfs.c.o"
  "CMakeFiles/meshfs.dir/tools/meshfs.c.o.d"
  "meshfs"
  "meshfs.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/meshfs.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
