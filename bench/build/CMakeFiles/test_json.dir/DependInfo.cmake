
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/unit/test_json.c" "CMakeFiles/test_json.dir/tests/unit/test_json.c.o" "gcc" "CMakeFiles/test_json.dir/tests/unit/test_json.c.o.d"
  "/work/main/tests/unit/testutil.c" "CMakeFiles/test_json.dir/tests/unit/testutil.c.o" "gcc" "CMakeFiles/test_json.dir/tests/unit/testutil.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/bench/build/CMakeFiles/meshcore.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
