file(REMOVE_RECURSE
  "CMakeFiles/test_history.dir/tests/unit/test_history.c.o"
  "CMakeFiles/test_history.dir/tests/unit/test_history.c.o.d"
  "CMakeFiles/test_history.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_history.dir/tests/unit/testutil.c.o.d"
  "test_history"
  "test_history.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_history.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
