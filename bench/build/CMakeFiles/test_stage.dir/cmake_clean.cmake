file(REMOVE_RECURSE
  "CMakeFiles/test_stage.dir/tests/unit/test_stage.c.o"
  "CMakeFiles/test_stage.dir/tests/unit/test_stage.c.o.d"
  "CMakeFiles/test_stage.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_stage.dir/tests/unit/testutil.c.o.d"
  "test_stage"
  "test_stage.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_stage.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
