file(REMOVE_RECURSE
  "CMakeFiles/test_file.dir/tests/unit/test_file.c.o"
  "CMakeFiles/test_file.dir/tests/unit/test_file.c.o.d"
  "CMakeFiles/test_file.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_file.dir/tests/unit/testutil.c.o.d"
  "test_file"
  "test_file.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_file.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
