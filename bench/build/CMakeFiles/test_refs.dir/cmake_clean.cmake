file(REMOVE_RECURSE
  "CMakeFiles/test_refs.dir/tests/unit/test_refs.c.o"
  "CMakeFiles/test_refs.dir/tests/unit/test_refs.c.o.d"
  "CMakeFiles/test_refs.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_refs.dir/tests/unit/testutil.c.o.d"
  "test_refs"
  "test_refs.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_refs.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
