file(REMOVE_RECURSE
  "CMakeFiles/test_view.dir/tests/unit/test_view.c.o"
  "CMakeFiles/test_view.dir/tests/unit/test_view.c.o.d"
  "CMakeFiles/test_view.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_view.dir/tests/unit/testutil.c.o.d"
  "test_view"
  "test_view.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_view.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
