
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/fs/daemon.c" "CMakeFiles/meshfs.dir/fs/daemon.c.o" "gcc" "CMakeFiles/meshfs.dir/fs/daemon.c.o.d"
  "/work/main/fs/dirty.c" "CMakeFiles/meshfs.dir/fs/dirty.c.o" "gcc" "CMakeFiles/meshfs.dir/fs/dirty.c.o.d"
  "/work/main/fs/nodes.c" "CMakeFiles/meshfs.dir/fs/nodes.c.o" "gcc" "CMakeFiles/meshfs.dir/fs/nodes.c.o.d"
  "/work/main/fs/ops.c" "CMakeFiles/meshfs.dir/fs/ops.c.o" "gcc" "CMakeFiles/meshfs.dir/fs/ops.c.o.d"
  "/work/main/tools/jsonread.c" "CMakeFiles/meshfs.dir/tools/jsonread.c.o" "gcc" "CMakeFiles/meshfs.dir/tools/jsonread.c.o.d"
  "/work/main/tools/meshfs.c" "CMakeFiles/meshfs.dir/tools/meshfs.c.o" "gcc" "CMakeFiles/meshfs.dir/tools/meshfs.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/bench/build/CMakeFiles/meshcore.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
