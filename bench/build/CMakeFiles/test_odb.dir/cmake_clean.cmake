file(REMOVE_RECURSE
  "CMakeFiles/test_odb.dir/tests/unit/test_odb.c.o"
  "CMakeFiles/test_odb.dir/tests/unit/test_odb.c.o.d"
  "CMakeFiles/test_odb.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_odb.dir/tests/unit/testutil.c.o.d"
  "test_odb"
  "test_odb.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_odb.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
