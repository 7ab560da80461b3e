
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/core/array.c" "CMakeFiles/meshcore.dir/core/array.c.o" "gcc" "CMakeFiles/meshcore.dir/core/array.c.o.d"
  "/work/main/core/branch.c" "CMakeFiles/meshcore.dir/core/branch.c.o" "gcc" "CMakeFiles/meshcore.dir/core/branch.c.o.d"
  "/work/main/core/chunk.c" "CMakeFiles/meshcore.dir/core/chunk.c.o" "gcc" "CMakeFiles/meshcore.dir/core/chunk.c.o.d"
  "/work/main/core/commit.c" "CMakeFiles/meshcore.dir/core/commit.c.o" "gcc" "CMakeFiles/meshcore.dir/core/commit.c.o.d"
  "/work/main/core/control.c" "CMakeFiles/meshcore.dir/core/control.c.o" "gcc" "CMakeFiles/meshcore.dir/core/control.c.o.d"
  "/work/main/core/db.c" "CMakeFiles/meshcore.dir/core/db.c.o" "gcc" "CMakeFiles/meshcore.dir/core/db.c.o.d"
  "/work/main/core/diff.c" "CMakeFiles/meshcore.dir/core/diff.c.o" "gcc" "CMakeFiles/meshcore.dir/core/diff.c.o.d"
  "/work/main/core/domain.c" "CMakeFiles/meshcore.dir/core/domain.c.o" "gcc" "CMakeFiles/meshcore.dir/core/domain.c.o.d"
  "/work/main/core/error.c" "CMakeFiles/meshcore.dir/core/error.c.o" "gcc" "CMakeFiles/meshcore.dir/core/error.c.o.d"
  "/work/main/core/file.c" "CMakeFiles/meshcore.dir/core/file.c.o" "gcc" "CMakeFiles/meshcore.dir/core/file.c.o.d"
  "/work/main/core/history.c" "CMakeFiles/meshcore.dir/core/history.c.o" "gcc" "CMakeFiles/meshcore.dir/core/history.c.o.d"
  "/work/main/core/json.c" "CMakeFiles/meshcore.dir/core/json.c.o" "gcc" "CMakeFiles/meshcore.dir/core/json.c.o.d"
  "/work/main/core/log.c" "CMakeFiles/meshcore.dir/core/log.c.o" "gcc" "CMakeFiles/meshcore.dir/core/log.c.o.d"
  "/work/main/core/merge.c" "CMakeFiles/meshcore.dir/core/merge.c.o" "gcc" "CMakeFiles/meshcore.dir/core/merge.c.o.d"
  "/work/main/core/odb.c" "CMakeFiles/meshcore.dir/core/odb.c.o" "gcc" "CMakeFiles/meshcore.dir/core/odb.c.o.d"
  "/work/main/core/oid.c" "CMakeFiles/meshcore.dir/core/oid.c.o" "gcc" "CMakeFiles/meshcore.dir/core/oid.c.o.d"
  "/work/main/core/refs.c" "CMakeFiles/meshcore.dir/core/refs.c.o" "gcc" "CMakeFiles/meshcore.dir/core/refs.c.o.d"
  "/work/main/core/stage.c" "CMakeFiles/meshcore.dir/core/stage.c.o" "gcc" "CMakeFiles/meshcore.dir/core/stage.c.o.d"
  "/work/main/core/store.c" "CMakeFiles/meshcore.dir/core/store.c.o" "gcc" "CMakeFiles/meshcore.dir/core/store.c.o.d"
  "/work/main/core/tree.c" "CMakeFiles/meshcore.dir/core/tree.c.o" "gcc" "CMakeFiles/meshcore.dir/core/tree.c.o.d"
  "/work/main/core/treecache.c" "CMakeFiles/meshcore.dir/core/treecache.c.o" "gcc" "CMakeFiles/meshcore.dir/core/treecache.c.o.d"
  "/work/main/core/view.c" "CMakeFiles/meshcore.dir/core/view.c.o" "gcc" "CMakeFiles/meshcore.dir/core/view.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
