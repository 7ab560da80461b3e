file(REMOVE_RECURSE
  "CMakeFiles/test_control.dir/tests/unit/test_control.c.o"
  "CMakeFiles/test_control.dir/tests/unit/test_control.c.o.d"
  "CMakeFiles/test_control.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_control.dir/tests/unit/testutil.c.o.d"
  "test_control"
  "test_control.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_control.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
